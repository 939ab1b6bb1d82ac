"Stage 00: loaders (each kind of bad input), the synthetic generator, the splits."
from pathlib import Path

import numpy as np
import pytest

from deeplog_mc.core import DataError
from deeplog_mc.datasets import assign_splits
from deeplog_mc.run import load_sessions
from deeplog_mc.sessions import UNK, Vocab, join_labels, read_labels, read_session_csv, read_session_file
from deeplog_mc.stages import prepare_data
from deeplog_mc.synthetic import ANOMALY_TYPES, generate_synthetic, type_counts


def write(tmp_path, name, text):
    p = tmp_path/name; p.write_text(text); return p


# ---- loaders: each bad input gives one clear error with the file and the line
def test_empty_session_file(tmp_path):
    p = write(tmp_path, 'empty', '')
    with pytest.raises(DataError, match=r'empty.*expected at least one session.*an empty file'): read_session_file(p)


def test_non_integer_key_names_file_and_line(tmp_path):
    p = write(tmp_path, 'sess', 'blk_1,5 5 22\nblk_2,5 oops 9\n')
    with pytest.raises(DataError) as e: read_session_file(p)
    assert e.value.line == 2 and e.value.path == str(p) and 'integer keys' in str(e.value) and 'oops' in str(e.value)


def test_repeated_session_id(tmp_path):
    p = write(tmp_path, 'sess', 'blk_1,5 5\nblk_2,5\nblk_1,9\n')
    with pytest.raises(DataError, match=r"line 3: expected unique session ids, but 'blk_1' already appeared on line 1"):
        read_session_file(p)


def test_labels_naming_unknown_ids(tmp_path):
    s = read_session_file(write(tmp_path, 'sess', 'a,1 2\nb,2 3\n'))
    lab = write(tmp_path, 'labels.csv', 'session_id,label\na,0\nb,1\nghost,1\n')
    with pytest.raises(DataError, match=r"labels.csv, line 4: expected ids that the sessions have, got 'ghost'"):
        join_labels(s, read_labels(lab), lab)


def test_labels_join_sets_label_and_type(tmp_path):
    s = read_session_file(write(tmp_path, 'sess', 'a,1 2\nb,2 3\n'))
    lab = write(tmp_path, 'labels.csv', 'session_id,label,type\nb,1,retry\n')
    j = join_labels(s, read_labels(lab, type_col='type'), lab)
    assert j.label.tolist() == [0, 1] and j.type.tolist()[1] == 'retry'


def test_missing_file_and_bad_csv(tmp_path):
    with pytest.raises(DataError, match='no such file'): read_session_file(tmp_path/'nope')
    p = write(tmp_path, 'x.csv', 'id,keys\n')
    with pytest.raises(DataError, match=r"x.csv, line 1: expected columns \['BlockId', 'keys'\]"): read_session_csv(p, 'BlockId')


def test_deeplog_style_file_without_ids(tmp_path):
    s = read_session_file(write(tmp_path, 'hdfs_train', '5 5 22 \n11 9 '))
    assert s.session_id.tolist() == ['hdfs_train:1', 'hdfs_train:2'] and s.events[1].tolist() == [11, 9]


def test_too_few_sessions_for_the_splits():
    df = generate_synthetic(n_train=10, n_test_normal=1, n_per_type=1, seed=0)
    with pytest.raises(DataError, match='at least 2 normal and 2 anomalous sessions'): assign_splits(df, ['train'])
    df = generate_synthetic(n_train=1, n_test_normal=5, n_per_type=2, seed=0)
    with pytest.raises(DataError, match='at least 2 normal training sessions'): assign_splits(df, ['train'])


# ---- generator
def test_generator_has_every_type_with_the_requested_counts():
    df = generate_synthetic(n_train=50, n_test_normal=30, n_per_type=7, seed=1)
    an = df[df.label == 1]
    assert an.type.value_counts().to_dict() == {t: 7 for t in ANOMALY_TYPES}
    assert len(ANOMALY_TYPES) >= 7 and (df[df.label == 0].type.isna()).all()
    assert (df.source == 'train').sum() == 50 and ((df.source == 'heldout') & (df.label == 0)).sum() == 30


def test_generator_imbalanced_mix():
    c = type_counts(50, 'imbalanced')
    assert set(c) == set(ANOMALY_TYPES) and min(c.values()) >= 2 and max(c.values()) > 5*min(c.values())
    df = generate_synthetic(n_train=20, n_test_normal=10, n_per_type=50, mix='imbalanced', seed=0)
    assert df[df.label == 1].type.value_counts().to_dict() == c


def test_generator_same_seed_same_data():
    a, b, c = (generate_synthetic(n_train=40, n_test_normal=20, n_per_type=5, seed=s) for s in (3, 3, 4))
    assert [e.tolist() for e in a.events] == [e.tolist() for e in b.events]
    assert [e.tolist() for e in a.events] != [e.tolist() for e in c.events]


def test_anomalies_differ_from_every_normal_pattern_they_claim():
    "Each injected type really changes the session: none equals a normal session of the same run."
    df = generate_synthetic(n_train=2000, n_test_normal=0, n_per_type=30, noise=0.0, seed=0)
    normal = {tuple(e) for e in df.events[df.label == 0]}
    an = df[df.label == 1]
    same = an.events.map(lambda e: tuple(e) in normal)
    # a swap of two equal neighbours or a truncation to a normal prefix could coincide; a few at most
    assert same.mean() < 0.05, an[same].type.value_counts()


# ---- splits
def test_splits_are_disjoint_and_respect_roles():
    df = assign_splits(generate_synthetic(n_train=100, n_test_normal=60, n_per_type=10, seed=0), ['train'], 0.1, 0.5, seed=0)
    assert df.session_id.is_unique and df.split.notna().all()
    assert set(df.split) == {'train', 'val', 'fit', 'test'}
    assert set(df.label[df.split.isin(['train', 'val'])]) == {0}
    assert (df.source[df.split.isin(['train', 'val'])] == 'train').all()
    per_type = df[df.label == 1].groupby(['type', 'split']).size().unstack()
    assert (per_type['fit'] == 5).all() and (per_type['test'] == 5).all()
    again = assign_splits(generate_synthetic(n_train=100, n_test_normal=60, n_per_type=10, seed=0), ['train'], 0.1, 0.5, seed=0)
    assert again.split.tolist() == df.split.tolist()


def test_prepare_data_writes_the_run_folder(tmp_path):
    df, vocab = prepare_data(tmp_path, dataset='synthetic', seed=0, n_train=60, n_test_normal=30, n_per_type=4)
    back, v2, meta = load_sessions(tmp_path)
    assert len(back) == len(df) and meta['dataset'] == 'synthetic'
    train_keys = set(np.concatenate(df.events[df.split == 'train'].to_list()))
    assert set(v2.keys.tolist()) == train_keys                          # vocabulary from train only
    assert v2.encode([999]).tolist() == [UNK]
    assert not any(p.name.endswith('.tmp') for p in tmp_path.rglob('*'))


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: synthetic, synthetic-raw, hdfs"): prepare_data(tmp_path, dataset='nope')


def test_missing_data_root_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match='HDFS benchmark folder'): prepare_data(tmp_path, dataset='hdfs', data_root=tmp_path/'none')


@pytest.mark.parametrize('seed', [0, 1])
def test_synthetic_raw_log_parses_back_to_the_generators_sessions(seed):
    "The raw lines go through Drain3 and sessions by block id: one template per generator key, every session whole."
    import re
    from deeplog_mc.datasets import load_dataset
    from deeplog_mc.logs import grouping_accuracy
    from deeplog_mc.sessions import flatten
    from deeplog_mc.synthetic import PERFORMANCE_TYPES, generate_synthetic_log
    sizes = dict(n_train=200, n_test_normal=100, n_per_type=10)
    ds = load_dataset('synthetic-raw', seed=seed, **sizes)
    gen = generate_synthetic(seed=seed, **sizes)
    df = ds.sessions.assign(n=ds.sessions.session_id.str[4:].astype(int) - 10**6)
    order = df[df.n < len(gen)].sort_values('n')
    assert len(order) == len(gen) and len(df) == len(gen) + 10 * len(PERFORMANCE_TYPES)
    parsed, _ = flatten(list(order.events)); truth, _ = flatten(list(gen.events.iloc[order.n.to_numpy()]))
    assert grouping_accuracy(truth, parsed) == 1.0 and len(ds.templates) == len(np.unique(truth))
    assert (order.type.fillna('') == gen.type.fillna('').to_numpy()).all()
    assert df.type.value_counts()[list(PERFORMANCE_TYPES)].tolist() == [10] * 3
    lines, table = generate_synthetic_log(n_per_fault=10, seed=seed, **sizes)
    kind = dict(zip(table.session_id, table.type.fillna('normal')))
    seen = {'value_out_of_range': [], 'normal': []}
    for l in lines:
        for v in re.findall(r'of size (\d+)', l):
            k = kind[re.search(r'blk_\d+', l).group(0)]
            if k in seen: seen[k].append(int(v))
    assert seen['normal'] and seen['value_out_of_range']
    assert min(seen['value_out_of_range']) > 2 * max(seen['normal'])    # the fault lies far outside the normal range

"Stages 02 and 03: features on hand-made sessions, k on separated blobs, profiles naming a planted key, mapping, persistence."
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from deeplog_mc.clustering import AnomalyClusterer, overcluster
from deeplog_mc.core import DataError
from deeplog_mc.detector import DeepLog
from deeplog_mc.features import DeviationFeatures
from deeplog_mc.run import load_sessions
from deeplog_mc.stages import cluster_anomalies
from deeplog_mc.naming import key_label
from deeplog_mc.synthetic import ERROR, RETRY, SYNTHETIC_TEMPLATES  # the keys retry_storm plants


def test_features_of_hand_made_sessions():
    normal = [[1, 2, 3, 4]] * 50
    dl = DeepLog(window=3, hidden=16, emb_dim=8, max_epochs=80, patience=80, lr=0.01, random_state=0).fit(normal, normal)
    dl.calibrate('prob', 'val', val_scores=dl.score_events(normal))     # strictest bound with no normal flagged
    probe = [[1, 2, 3, 4], [1, 3, 2, 4], [1, 2], [1, 2, 77, 3, 4]]       # normal, a surprising known key, ends early, unseen key
    fx = DeviationFeatures().fit(dl, normal, extra_sessions=probe[:3])
    F = fx.transform(probe, dl.score_events(probe))
    assert F.dev_count[0] == 0 and F.ended_early[0] == 0
    assert F['surprise_E3'][1] >= 1 and F['expected_E2'][1] >= 1 and F.first_dev_pos[1] == 1
    assert F.ended_early[2] == 1 and F['surprise_end'][2] == 1 and F['expected_E3'][2] == 1
    assert F.unseen_count[3] == 1 and F['surprise_unseen'][3] == 1 and F.unseen_count[:3].sum() == 0


def test_k_is_found_on_well_separated_blobs():
    rng = np.random.default_rng(3)
    # the silhouette rule of the kmeans method: four blobs of very unequal size
    sizes = [300, 150, 60, 12]
    X = np.vstack([rng.normal(0, .4, (n, 5)) + 6 * np.eye(5)[i] for i, n in enumerate(sizes)])
    cols = [f'x{i}' for i in range(5)]
    cl = AnomalyClusterer('kmeans', scaling='standard', k_max=8, random_state=0).fit(pd.DataFrame(X, columns=cols))
    assert cl.k_ == 4 and adjusted_rand_score(np.repeat(range(4), sizes), cl.labels_) == 1.0
    # the overcluster rule: three large lumpy groups (two blobs each), the shape of anomaly data; the fine
    # clusters of each group merge back into one type
    big = lambda c: np.vstack([rng.normal(0, .3, (100, 4)) + c + d for d in ([0, 0, 0, 0], [1.5, 0, 0, 0])])
    X = np.vstack([big([0, 0, 0, 0]), big([8, 0, 0, 0]), big([0, 8, 0, 0])])
    oc = overcluster(X, seed=0)
    assert oc['k'] == 3 and adjusted_rand_score(np.repeat(range(3), 200), oc['labels']) == 1.0



@pytest.fixture(scope='module')
def run(synthetic_run):
    return synthetic_run('typing', 400, 200, 40, base_epochs=20)


def test_profiles_name_the_planted_key_of_a_planted_type(run):
    typ = cluster_anomalies(run, seed=0, baselines=False)
    df, _, _ = load_sessions(run)
    labels = pd.read_parquet(run/'features'/'cluster_labels.parquet')
    fit = (df.split == 'fit') & (df.label == 1)
    storm = labels.cluster[fit & (df.type == 'retry_storm')].value_counts().index[0]   # the cluster holding retry storms
    prof = {p['cluster']: p for p in json.loads((run/'models'/'cluster_model.json').read_text())['profiles']}[storm]
    planted = {f'E{ERROR}', f'E{RETRY}'}
    assert planted & {s['key'] for s in prof['surprising']}, prof
    labels = {key_label(k, SYNTHETIC_TEMPLATES) for k in planted}          # named in the templates' words
    assert any(lab in prof['name'] for lab in labels), prof['name']
    assert typ['test']['ari'] >= 0.8, typ['test']                      # an easy data set is typed well
    # one presented level: every typed session has one type and its name, and no subtype columns remain
    lab = pd.read_parquet(run/'features'/'cluster_labels.parquet'); lab = lab[lab.cluster >= 0]
    assert lab.cluster.nunique() == typ['k'] and lab.cluster_name.notna().all() and 'subtypes' not in typ
    assert list(lab.columns) == ['session_id', 'split', 'cluster', 'cluster_name']
    # a card per type: the retry storm's card names its planted key in the templates' words, and its example
    # session marks with » the planted events the base model did not expect
    cards = (run/'models'/'type_cards.md').read_text().split('\n### Type ')[1:]
    assert len(cards) == typ['k'] and all('**nearest type**' in c for c in cards) == (typ['k'] > 1)
    card = next(c for c in cards if c.startswith(f'{storm}: '))
    assert any(lab in card for lab in labels) and '**adds**' in card and '**misses**' in card
    marked = [ln for ln in card.split('```')[1].splitlines() if ln.startswith('» ')]
    assert any(ln.split()[1] in planted for ln in marked), card


def test_a_k_the_anomalies_cannot_give_is_said(run):
    "Asked for more types than the anomalies' fine clusters allow, the stage types what it can and says so."
    typ = cluster_anomalies(run, seed=0, baselines=False, k=500, n_fine=10)
    assert typ['k'] <= 10 and typ['k_note'] == f"k = 500 asked, {typ['k_before_twins']} found"
    assert 'k_note' not in cluster_anomalies(run, seed=0, baselines=False, k=3)


def test_mapping_merges_clusters_and_a_bad_mapping_is_a_clear_error(run):
    typ = cluster_anomalies(run, seed=0, baselines=False)
    (run/'models'/'cluster_mapping.yaml').write_text('0: merged type\n1: merged type\n')
    try:
        cluster_anomalies(run, seed=0, baselines=False)
        names = pd.read_parquet(run/'features'/'cluster_labels.parquet').cluster_name.dropna()
        assert (names == 'merged type').sum() > 0 and names.nunique() == typ['k'] - 1
        (run/'models'/'cluster_mapping.yaml').write_text(f"{typ['k'] + 3}: nowhere\n")
        with pytest.raises(DataError, match='cluster_mapping.yaml: expected cluster ids between'): cluster_anomalies(run, baselines=False)
    finally:
        (run/'models'/'cluster_mapping.yaml').unlink()


def test_saved_clusterer_predicts_the_same_and_refuses_other_files(run, tmp_path):
    cluster_anomalies(run, seed=0, baselines=False)
    from deeplog_mc.run import load_features, feature_columns
    F = load_features(run); cols = feature_columns(F)
    a = AnomalyClusterer.load(run/'models'/'cluster_model.npz')
    b = AnomalyClusterer(random_state=0).fit(F.loc[(F.split == 'fit') & (F.label == 1), cols].reset_index(drop=True))
    assert (a.predict(F[cols]) == b.predict(F[cols])).all()
    # a model of an earlier version (subtype arrays, retired settings) loads and predicts the same types
    old = tmp_path/'old'; z = dict(np.load(run/'models'/'cluster_model.npz'))
    np.savez(old.with_suffix('.npz'), **z, sub_centers=z['centers'], sub_parent=np.arange(len(z['centers'])))
    cfg = json.loads((run/'models'/'cluster_model.json').read_text())
    cfg['params'].update(subtype_silhouette=0.5, subtype_min_size=30, subtype_space='counts')
    old.with_suffix('.json').write_text(json.dumps(cfg))
    assert (AnomalyClusterer.load(old.with_suffix('.npz')).predict(F[cols]) == a.predict(F[cols])).all()
    (tmp_path/'c.json').write_text('{"format": "deeplog-mc/base-model/1"}')
    with pytest.raises(DataError, match=r'c\.json: expected a deeplog-mc cluster model'): AnomalyClusterer.load(tmp_path/'c.npz')


def test_twins_share_one_type_and_new_sessions_follow_their_twins(tmp_path):
    """Sessions with the same key counts are one kind whatever their order: 20 sessions that lie in blob B
    of the feature space but have the key counts of the 60 sessions of blob A join A's type (merge_twins);
    without it they stay in B. New sessions with those counts go to A, others to the nearest type."""
    rng = np.random.default_rng(0)
    f = np.concatenate([rng.normal(0, .1, 60), rng.normal(5, .1, 60), rng.normal(5, .1, 20)])
    counts = np.array([[2, 1]] * 60 + [[1, 2]] * 60 + [[2, 1]] * 20, float)
    def table(f, counts):
        n = counts.sum(1)
        # the order-driven signal f in four feature groups, the key counts in two (shares, and raw counts added by the scaling)
        return pd.DataFrame({'len': n, 'f': f, 'surprise_E1': f, 'expected_E2': f, 'dev_repeat_share': f,
                             'count_E1': counts[:, 0] / n, 'count_E2': counts[:, 1] / n})
    X = table(f, counts)
    off = AnomalyClusterer(n_fine=6, merge_twins=False, random_state=0).fit(X)
    on = AnomalyClusterer(n_fine=6, random_state=0).fit(X)
    assert off.k_ == 2 and len(set(off.labels_[:60])) == 1 and (off.labels_[120:] == off.labels_[60]).all()
    assert on.k_ == 2 and (on.labels_[120:] == on.labels_[0]).all() and on.labels_[0] != on.labels_[60]
    new = table(np.array([5.0, 5.0, 0.0]), np.array([[2, 1], [1, 3], [2, 2]], float))
    a = on.labels_[0]; b = on.labels_[60]
    assert on.predict(new).tolist() == [a, b, a]
    on.save(tmp_path/'c')
    back = AnomalyClusterer.load(tmp_path/'c.npz')
    assert back.predict(new).tolist() == [a, b, a] and (back.predict(X) == on.labels_).all()


def test_typing_defaults_are_the_swept_values_fit_chooses():
    "README's claim: n_fine and retain are, per setting, the best mean fit NMI within k <= 2 x true k everywhere."
    from pathlib import Path
    from deeplog_mc.config import TypingConfig
    from deeplog_mc.typing_bench import TYPING_SWEEP, sweep_table
    res = json.loads((Path(__file__).parents[1]/'results'/'typing_sweep.json').read_text())
    assert {r['setting'] for r in res['rows']} == set(TYPING_SWEEP) and len({r['set'] for r in res['runs']}) >= 4
    assert sweep_table(res['runs']) == res['rows']                  # the table is the rule applied to the runs
    chosen = {r['setting']: r['value'] for r in res['rows'] if r['chosen']}
    assert chosen == {s: getattr(TypingConfig(), s) for s in TYPING_SWEEP}

"Stage 01: windows, padding and end of session; persistence; unseen keys; reproducibility."
import json, subprocess, sys

import numpy as np
import pytest

from deeplog_mc.core import DataError
from deeplog_mc.detector import DeepLog, NGramBaseline, choose_threshold_fit, choose_threshold_val
from deeplog_mc.evaluation import real_precision_f1
from deeplog_mc.nets import session_windows, unique_rows
from deeplog_mc.sessions import EOS, PAD, UNK
from deeplog_mc.stages import prepare_data, train_base_model

NORMAL = [[1, 2, 3, 4]] * 40 + [[1, 2, 2, 3, 4]] * 40 + [[5, 6]] * 20


def small_model(**kw):
    return DeepLog(**{'window': 3, 'hidden': 16, 'emb_dim': 8, 'max_epochs': 80, 'patience': 80, 'lr': 0.01, 'random_state': 0, **kw})


def test_windows_pad_from_the_start_and_predict_the_end():
    ids, off = np.array([7, 8, 9, 4]), np.array([0, 3, 4])
    W, T, toff = session_windows(ids, off, h=3)
    assert W.tolist() == [[PAD, PAD, PAD], [PAD, PAD, 7], [PAD, 7, 8], [7, 8, 9], [PAD, PAD, PAD], [PAD, PAD, 4]]
    assert T.tolist() == [7, 8, 9, EOS, 4, EOS]          # every event predicted, the first one too, then the end
    assert toff.tolist() == [0, 4, 6]


def test_long_session_windows_slide():
    ids = np.arange(3, 15); W, T, _ = session_windows(ids, np.array([0, 12]), h=4)
    assert W[-1].tolist() == [11, 12, 13, 14] and T[-1] == EOS and W[4].tolist() == [3, 4, 5, 6] and T[4] == 7


def test_unique_rows_roundtrip():
    a = np.random.default_rng(0).integers(0, 7, size=(500, 4))
    u, inv, cnt = unique_rows(a, 7)
    assert (u[inv] == a).all() and cnt.sum() == 500 and len(u) == len({tuple(r) for r in a})


def test_short_and_truncated_sessions_are_judged_by_the_model():
    m = small_model().fit(NORMAL, NORMAL)
    m.calibrate('prob', 'val', val_scores=m.score_events(NORMAL))
    assert m.predict([[1, 2, 3, 4], [5, 6]]).tolist() == [0, 0]
    # a two-event prefix of a long session, a session ending early, one running on past its end
    assert m.predict([[1, 2], [1, 2, 3], [5, 6, 6], [6]]).tolist() == [1, 1, 1, 1]


def test_unseen_keys_are_flagged_never_a_crash():
    m = small_model(max_epochs=5).fit(NORMAL, NORMAL)
    sc = m.score_events([[1, 2, 99, 3, 4], [12345]])
    assert sc.unseen.sum() == 2 and (sc.target[sc.unseen] == UNK).all()
    assert m.predict(scores=sc, rule='topg', param=len(m.vocab_)).tolist() == [1, 1]   # even with g = every key
    m.calibrate('prob', 'val', val_scores=m.score_events(NORMAL))
    assert m.predict([[1, 2, 99, 3, 4]]).tolist() == [1]


def test_save_load_scores_identically(tmp_path):
    m = small_model(max_epochs=10).fit(NORMAL, NORMAL)
    m.calibrate('prob', 'val', val_scores=m.score_events(NORMAL))
    m.save(tmp_path/'base_model')
    probe = [[1, 2, 3, 4], [1, 3, 2, 4], [5, 6, 1], [7]]
    m2 = DeepLog.load(tmp_path/'base_model.pt')
    a, b = m.score_events(probe), m2.score_events(probe)
    assert np.array_equal(a.logp, b.logp) and np.array_equal(a.rank, b.rank)
    assert m2.rule_ == 'prob' and m2.threshold_ == m.threshold_ and m.predict(probe).tolist() == m2.predict(probe).tolist()
    # and in a fresh process
    code = ('from deeplog_mc.detector import DeepLog; import json; m = DeepLog.load(%r); '
            'print(json.dumps(m.score_events(%r).logp.tolist()))') % (str(tmp_path/'base_model.pt'), probe)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == a.logp.tolist()


def test_corrupted_or_missing_model_files_fail_clearly(tmp_path):
    m = small_model(max_epochs=2).fit(NORMAL, NORMAL); m.save(tmp_path/'m')
    data = (tmp_path/'m.pt').read_bytes(); (tmp_path/'m.pt').write_bytes(data[:len(data)//2])
    with pytest.raises(DataError, match=r'm\.pt: expected a PyTorch state dict'): DeepLog.load(tmp_path/'m.pt')
    (tmp_path/'m.json').write_text('{"format": "something else"}')
    with pytest.raises(DataError, match=r'm\.json: expected a deeplog-mc base-model config'): DeepLog.load(tmp_path/'m.pt')
    with pytest.raises(DataError, match='no such file'): DeepLog.load(tmp_path/'nothing.pt')


def test_threshold_selection_never_sees_test():
    assert choose_threshold_val([0.5, 0.1, 0.9]) == 0.9
    t, f1 = choose_threshold_fit([0.1, 0.2, 0.7, 0.8], [0, 0, 1, 1]); assert (t, f1) == (0.2, 1.0)
    rr = real_precision_f1(0.5, 0.01, (1000, 10)); assert abs(rr['precision'] - 5 / 15) < 1e-12


def test_ngram_baseline():
    b = NGramBaseline().fit([[1, 2, 3]])
    assert b.predict([[1, 2, 3], [1, 3], [2, 3], [1, 2], [1, 2, 3, 3]]).tolist() == [0, 1, 1, 1, 1]


def test_stage_same_seed_same_metrics(tmp_path):
    outs = []
    for name in ('a', 'b'):
        prepare_data(tmp_path/name, seed=1, n_train=150, n_test_normal=60, n_per_type=6)
        _, det = train_base_model(tmp_path/name, seed=1, max_epochs=4, patience=2)
        det.pop('train'); outs.append(json.dumps(det, sort_keys=True))
    assert outs[0] == outs[1]
    assert {'rule', 'param', 'selection', 'test', 'val_mode', 'fit_mode', 'paper_topg_g9', 'baseline_unseen_ngram'} <= set(json.loads(outs[0]))
    t = json.loads(outs[0])['test']
    assert {'tp', 'fp', 'fn', 'tn', 'precision', 'recall', 'f1', 'fpr'} <= set(t)


def test_val_session_with_an_unseen_key_does_not_disable_the_probability_rule():
    m = small_model(max_epochs=10).fit(NORMAL, NORMAL)
    val = NORMAL[:20] + [[1, 2, 55, 3, 4]]                  # one val session carries a key unseen in training
    m.calibrate('prob', 'val', val_scores=m.score_events(val))
    assert 0 < m.threshold_ < 1
    assert m.predict([[1, 2, 3, 4], [1, 2, 66, 3, 4], [2, 1]]).tolist() == [0, 1, 1]


def test_fit_mode_that_flags_everything_and_empty_input():
    m = small_model(max_epochs=3).fit(NORMAL, NORMAL)
    sc = m.score_events([[1, 2, 3, 4], [5, 6]])
    m.calibrate('topg', 'fit', fit_scores=sc, fit_labels=[1, 1])     # best F1: flag every session
    assert m.g_ == 0 and m.predict(scores=sc).tolist() == [1, 1]
    assert m.score_events([]).n_sessions == 0 and m.predict([]).tolist() == [] and m.hidden_states([]).shape == (0, 16)


def test_fit_without_anomalies_chooses_the_rule_on_val(tmp_path):
    "A fit split with no labelled anomaly has no F1 to maximise: the stage falls back to val and says so."
    from deeplog_mc.run import load_sessions, save_sessions
    prepare_data(tmp_path, seed=1, n_train=150, n_test_normal=60, n_per_type=6)
    df, _, _ = load_sessions(tmp_path)
    df.loc[(df.split == 'fit') & (df.label == 1), 'split'] = 'test'      # every labelled anomaly held out
    save_sessions(df, tmp_path/'data'/'sessions.parquet')
    _, det = train_base_model(tmp_path, seed=1, max_epochs=4, patience=2)
    assert det['selection'] == 'val' and det['fit_mode'] is None and 'chosen on val' in det['selection_note']
    assert det['test']['fpr'] < 0.5 and det['test']['recall'] > 0            # not the flag-everything rule

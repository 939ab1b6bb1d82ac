"The parameter-value model on the synthetic raw log: performance faults the key model cannot see are caught."
import json

import numpy as np
import pandas as pd
import pytest

from deeplog_mc.core import DataError
from deeplog_mc.params import ParameterModel
from deeplog_mc.stages import prepare_data, train_base_model
from deeplog_mc.synthetic import PERFORMANCE_TYPES
from deeplog_mc.values import EventValues


@pytest.fixture(scope='module')
def raw_run(tmp_path_factory):
    "A synthetic-raw run through stage 01 (the key model and the parameter-value model)."
    run = tmp_path_factory.mktemp('synraw')
    prepare_data(run, dataset='synthetic-raw', seed=0, n_train=300, n_test_normal=400, n_per_type=30)
    train_base_model(run, seed=0, max_epochs=8, patience=3)
    return run


def test_stage_00_keeps_every_events_values_and_time(raw_run):
    m = json.loads((raw_run/'metrics.json').read_text())
    ev = EventValues.load(raw_run/'data'/'event_values.npz')
    assert m['parsing']['values'].startswith(f'{len(ev.dt)} events')
    assert np.isfinite(ev.dt).sum() == len(ev.dt) - len(ev.session_id)      # a delta for all but first events
    assert (ev.dt[np.isfinite(ev.dt)] > 0).all()


def test_performance_faults_are_caught_and_normal_sessions_pass(raw_run):
    t = json.loads((raw_run/'metrics.json').read_text())['parameters']['test']
    assert t['fpr'] <= 0.02, t['fpr']
    for kind in PERFORMANCE_TYPES:
        assert t['recall_by_type'][kind] >= 0.9, (kind, t['recall_by_type'][kind])
        assert t['recall_either'][kind] >= t['recall_key_model_only'][kind]


def test_a_run_without_raw_lines_has_no_parameter_model(quick_pipeline):
    m = json.loads((quick_pipeline/'metrics.json').read_text())
    assert m['parameters'] is None and not (quick_pipeline/'data'/'event_values.npz').exists()


def test_damaged_model_files_are_refused(raw_run, tmp_path):
    (tmp_path/'pm.json').write_text('{"params": {}}')
    with pytest.raises(DataError, match='a parameter model written by'): ParameterModel.load(tmp_path/'pm')
    (tmp_path/'v.npz').write_bytes(b'not a npz')
    with pytest.raises(DataError, match='event values written by stage 00'): EventValues.load(tmp_path/'v.npz')


def test_type_cards_of_a_raw_log_run_show_the_source_lines(raw_run):
    from deeplog_mc.stages import cluster_anomalies, extract_features
    extract_features(raw_run); cluster_anomalies(raw_run, baselines=False)
    cards = (raw_run/'models'/'type_cards.md').read_text()
    lines = pd.read_parquet(raw_run/'data'/'event_lines.parquet')
    assert cards.count('The same session in the log') == cards.count('### Type ')
    shown = [l for l in cards.splitlines() if l[2:7] == 'line ']
    assert shown and all(' blk_' in l for l in shown)             # every source line names its block
    n, text = shown[0][7:].split(': ', 1)
    assert text in set(lines.text[lines.line == int(n)])

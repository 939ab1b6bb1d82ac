"Prediction with a trained run: files in, typed sessions out; raw logs through the saved parser; clear errors."
import json, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from deeplog_mc.core import DataError
from deeplog_mc.run import load_sessions
from deeplog_mc.predict import AnomalyTyper, predict_file, read_predictions


@pytest.fixture(scope='module')
def run(synthetic_run):
    return synthetic_run('run', 300, 100, 12, base_epochs=12, until='clusters')


def test_predict_file_cli_and_identical_in_a_fresh_process(run, tmp_path):
    df, _, _ = load_sessions(run); test = df[df.split == 'test']
    inp = tmp_path/'in.txt'; inp.write_text(''.join(f"{s},{' '.join(map(str, e))}\n" for s, e in zip(test.session_id, test.events)))
    pred = read_predictions(predict_file(run, inp, tmp_path/'a.csv', progress=False)['output'])
    exe = Path(sys.executable).parent/'deeplog-mc'
    r = subprocess.run([str(exe), 'predict', '--run', str(run), '--input', str(inp), '--output', str(tmp_path/'b.jsonl')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    b = read_predictions(tmp_path/'b.jsonl')
    assert b['class'].tolist() == pred['class'].tolist() and b.session_id.astype(str).tolist() == test.session_id.tolist()
    flagged = pred[pred.is_anomaly]
    assert len(flagged) and (flagged['class'] != 'normal').all() and flagged.explanation.map(len).min() >= 1


def test_unseen_key_is_flagged_and_explained(run):
    typer = AnomalyTyper.load(run)
    p = typer.predict([[1, 2, 3, 4, 5, 5, 7], [1, 777, 2, 3, 4, 5, 5, 7]], ['a', 'b'])
    assert bool(p.is_anomaly[1]) and any('E777' in e['event'] for e in p.explanation[1])


def test_missing_or_corrupted_model_gives_a_clear_error(run, tmp_path):
    with pytest.raises(DataError, match='expected a run folder with a trained base model'): AnomalyTyper.load(tmp_path)
    import shutil; bad = tmp_path/'bad'; shutil.copytree(run, bad)
    (bad/'models'/'base_model.pt').write_bytes(b'\x00garbage')
    with pytest.raises(DataError, match=r'base_model\.pt: expected a PyTorch state dict'): AnomalyTyper.load(bad)


def test_predict_on_dask_gives_the_verdicts_of_the_in_process_path(run, tmp_path):
    from deeplog_mc.sessions import write_session_parquet
    df, _, _ = load_sessions(run); test = df[df.split == 'test']
    inp = write_session_parquet(test.session_id, test.events, tmp_path/'in.parquet', row_group=64)
    exe = Path(sys.executable).parent/'deeplog-mc'
    for engine in ('local', 'dask'):
        r = subprocess.run([str(exe), 'predict', '--run', str(run), '--input', str(inp), '--output', str(tmp_path/f'{engine}.parquet'),
                            '--engine', engine, '--workers', '2'], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
    a, b = read_predictions(tmp_path/'local.parquet'), read_predictions(tmp_path/'dask.parquet')
    cols = ['session_id', 'class', 'type', 'is_anomaly', 'score']
    assert len(a) == len(test) and a[cols].equals(b[cols]) and a.explanation.tolist() == b.explanation.tolist()


def test_ids_like_na_survive_every_output_format_and_an_empty_input_gives_an_empty_table(run, tmp_path):
    from deeplog_mc.sessions import write_session_parquet
    (tmp_path/'in.txt').write_text('NA,18 1 2 3\nnull,21 21\n')
    for suffix in ('.csv', '.jsonl', '.parquet'):
        out = predict_file(run, tmp_path/'in.txt', tmp_path/f'p{suffix}', progress=False)['output']
        assert read_predictions(out).session_id.tolist() == ['NA', 'null'], suffix
    empty = write_session_parquet([], [], tmp_path/'empty.parquet')
    for suffix in ('.csv', '.parquet'):
        out = predict_file(run, empty, tmp_path/f'e{suffix}', progress=False)['output']
        assert len(read_predictions(out)) == 0 and 'class' in read_predictions(out).columns, suffix

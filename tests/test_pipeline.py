"The papermill runner: parameters reach their stage, unknown ones fail, --resume skips, failures stop the run."
import json, subprocess, sys, time
from pathlib import Path

import pytest

from deeplog_mc.cli import main
from deeplog_mc.runner import StageFailed, resolve_parameters, run_pipeline, stage_notebooks

SMALL = {'n_train': 40, 'n_test_normal': 20, 'n_per_type': 3}


def metrics(run):
    return json.loads((run/'metrics.json').read_text())


def test_a_parameter_reaches_its_stage(tmp_path):
    run = run_pipeline('r', tmp_path, 'quick', params={**SMALL, 'n_train': 37}, stages=['00_data'], progress=False, report=False)
    assert metrics(run)['data']['sources']['train'] == 37
    params = json.loads((run/'params.json').read_text())
    assert params['stages']['00_data']['n_train'] == 37 and 'run_dir' not in params['stages']['00_data']
    nb = json.loads((run/'notebooks'/'00_data.ipynb').read_text())
    injected = [c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', [])]
    assert injected and 'n_train = 37' in ''.join(injected[0]['source'])


def test_config_file_and_precedence(tmp_path):
    cfg = tmp_path/'run.yaml'; cfg.write_text('n_train: 41\nn_test_normal: 20\nn_per_type: 3\nseed: 5\n')
    resolved, _ = resolve_parameters(stage_notebooks(['00_data']), 'full', {'n_train': 41, 'seed': 5}, {'seed': 6})
    assert resolved['n_train'] == 41 and resolved['seed'] == 6
    run = run_pipeline('c', tmp_path, 'quick', config=cfg, stages=['00_data'], progress=False, report=False)
    assert metrics(run)['data']['sources']['train'] == 41


def test_unknown_parameter_fails_and_lists_known_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(['run', '--runs-dir', str(tmp_path), '--stages', '00_data', '-p', 'n_trian', '5'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'unknown parameter(s) n_trian' in err and 'n_train' in err and 'dataset' in err
    assert not any(tmp_path.iterdir())                     # nothing half-written


def test_resume_skips_done_stages(tmp_path):
    kw = dict(params=SMALL, stages=['00_data'], progress=False, report=False)
    run = run_pipeline('x', tmp_path, 'quick', **kw)
    stamp = (run/'data'/'sessions.parquet').stat().st_mtime_ns
    logs = []; run_pipeline('x', tmp_path, 'quick', resume=True, log=logs.append, **kw)
    assert logs == ['[00_data] unchanged, skipped (--resume)']
    assert (run/'data'/'sessions.parquet').stat().st_mtime_ns == stamp
    (run/'data'/'vocab.json').unlink()                     # an incomplete stage runs again
    logs = []; run_pipeline('x', tmp_path, 'quick', resume=True, log=logs.append, **kw)
    assert logs[0].startswith('[00_data] running') and (run/'data'/'vocab.json').is_file()


def test_a_failing_stage_stops_with_its_name_and_error(tmp_path):
    with pytest.raises(StageFailed) as e:
        run_pipeline('f', tmp_path, 'quick', params={**SMALL, 'dataset': 'no_such_dataset'}, stages=['00_data'], progress=False, report=False)
    assert e.value.stage == '00_data' and "unknown dataset 'no_such_dataset'" in str(e.value)
    st = metrics(tmp_path/'f')['stages']['00_data']
    assert st['status'] == 'failed' and 'no_such_dataset' in st['error']


def test_cli_run_writes_the_run_folder(tmp_path):
    exe = Path(sys.executable).parent/'deeplog-mc'
    r = subprocess.run([str(exe), 'run', '--name', 'cli', '--runs-dir', str(tmp_path), '--preset', 'quick', '--stages', '00_data',
                        '-p', 'n_train', '30', '-p', 'n_test_normal', '20', '-p', 'n_per_type', '3'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path/'cli'
    for f in ('params.json', 'metrics.json', 'report.html', 'notebooks/00_data.ipynb', 'data/sessions.parquet'):
        assert (run/f).is_file(), f
    assert 'report:' in r.stdout and '"sessions"' in r.stdout
    (run/'report.html').unlink()                                       # `deeplog-mc report` rebuilds it
    r = subprocess.run([str(exe), 'report', str(run)], capture_output=True, text=True)
    assert r.returncode == 0 and (run/'report.html').stat().st_size > 10_000, r.stderr[-2000:]
    r = subprocess.run([str(exe), 'report', str(tmp_path/'nothing')], capture_output=True, text=True)
    assert r.returncode == 2 and 'nothing: expected a run folder (with metrics.json)' in r.stderr


def test_rerunning_a_stage_clears_what_later_stages_wrote(tmp_path):
    kw = dict(params=SMALL, stages=['00_data'], progress=False, report=False)
    run = run_pipeline('s', tmp_path, 'quick', **kw)
    (run/'features').mkdir(); (run/'features'/'features.parquet').write_text('old')
    m = metrics(run); m['features'] = {'n_features': 1}; m['stages']['02_features'] = {'status': 'ok'}
    (run/'metrics.json').write_text(json.dumps(m))
    run_pipeline('s', tmp_path, 'quick', **{**kw, 'params': {**SMALL, 'seed': 1}})
    m = metrics(run)
    assert 'features' not in m and '02_features' not in m['stages'] and not (run/'features'/'features.parquet').exists()


def test_relative_dataset_yaml_is_resolved_against_the_callers_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved, per = resolve_parameters(stage_notebooks(['00_data']), 'quick', overrides={'dataset': 'my.yaml', 'data_root': 'data'})
    assert resolved['dataset'] == str(tmp_path/'my.yaml') and per['00_data']['data_root'] == str(tmp_path/'data')


def test_a_second_run_with_the_same_name_refuses_while_the_first_runs(tmp_path):
    exe = Path(sys.executable).parent/'deeplog-mc'
    cmd = [str(exe), 'run', '--name', 'twice', '--runs-dir', str(tmp_path), '--preset', 'quick', '--stages',
           '00_data,01_base_model', '-p', 'n_train', '30', '-p', 'n_test_normal', '20', '-p', 'n_per_type', '3']
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path/'twice'/'.lock'
    for _ in range(600):                                               # until the first run holds the folder
        if lock.is_file() or first.poll() is not None: break
        time.sleep(0.05)
    assert lock.is_file(), 'the first run never took the lock'
    second = subprocess.run(cmd, capture_output=True, text=True)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 2 and f'process {first.pid}' in second.stderr and 'twice' in second.stderr, second.stderr
    assert not lock.exists() and metrics(tmp_path/'twice')['stages']['01_base_model']['status'] == 'ok'


def test_too_few_anomalies_to_type_the_run_still_finishes_with_detection(tmp_path):
    rng = __import__('numpy').random.default_rng(0)
    normal = lambda: ' '.join(map(str, [1, 2, 3, 4, *rng.integers(5, 8, 3), 9]))
    (tmp_path/'train').write_text('\n'.join(f'n{i},{normal()}' for i in range(80)) + '\n')
    held = [f'h{i},{normal()}' for i in range(40)] + ['a1,1 2 13 13 13 9', 'a2,1 2 3 14 14 9']
    (tmp_path/'held').write_text('\n'.join(held) + '\n')
    (tmp_path/'labels.csv').write_text('session_id,label\n' + ''.join(f'{s.split(",")[0]},{int(s[0] == "a")}\n'
                                                                        for s in held + [f'n{i},' for i in range(80)]))
    (tmp_path/'few.yaml').write_text('sources:\n  - {path: ./train, format: sessions, role: train, label: 0}\n'
                                     '  - {path: ./held, format: sessions, role: test, label: 0}\n'
                                     'labels: {path: ./labels.csv, id: session_id, label: label}\n')
    run = run_pipeline('few', tmp_path/'runs', 'quick', params={'dataset': str(tmp_path/'few.yaml')}, log=lambda m: None)
    m = metrics(run)
    assert {s['status'] for s in m['stages'].values()} == {'ok'}
    assert m['typing']['k'] == 0 and m['typing']['skipped'].startswith('no anomalies to type: 1 anomalous fit')
    assert m['classifier']['skipped'].startswith('no anomaly types to learn') and 'f1' in m['detection']['test']
    assert (run/'models'/'type_cards.md').read_text().startswith('# No anomaly types') and (run/'report.html').is_file()

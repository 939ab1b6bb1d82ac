"`deeplog-mc watch` follows a log that another process writes and rotates; its verdicts equal `predict` on the same lines."
import json, subprocess, sys, textwrap
from pathlib import Path

import pytest
import yaml

from deeplog_mc.predict import predict_file, read_predictions
from deeplog_mc.stages import prepare_data, train_base_model

EXE = str(Path(sys.executable).parent/'deeplog-mc')
FMT = '<Date> <Time> <Level> <Component>: <Content>'


def lines_of(session:int, anomalous:bool) -> list[str]:
    steps = ['open session', 'read 4096 bytes for', 'kernel panic in module for' if anomalous else 'write 512 bytes for',
             'close session']
    return [f'2024-01-01 10:00:{k:02d} INFO svc: {s} req-{session}' for k, s in enumerate(steps)]


WRITER = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    live, sessions = Path(sys.argv[1]), [l.rstrip('\\n') for l in open(sys.argv[2])]
    for i, block in enumerate(s.split('|') for s in sessions):
        if i == len(sessions) // 2: live.rename(live.with_name(live.name + '.1'))    # rotation: a new file from here
        with open(live, 'a') as f:
            for line in block: f.write(line + '\\n'); f.flush(); time.sleep(0.01)
        time.sleep(0.05)
''')


@pytest.fixture(scope='module')
def raw_run(tmp_path_factory) -> Path:
    "A base model trained on a small raw log whose sessions are found by id."
    tmp_path = tmp_path_factory.mktemp('raw')
    train = [l for i in range(60) for l in lines_of(i, anomalous=i >= 54)]
    (tmp_path/'train.log').write_text('\n'.join(train) + '\n')
    (tmp_path/'labels.csv').write_text('session_id,label\n' + ''.join(f'req-{i},{int(i >= 54)}\n' for i in range(60)))
    (tmp_path/'app.yaml').write_text(yaml.safe_dump({
        'name': 'app', 'sources': [{'path': './train.log', 'format': 'raw'}], 'log_format': FMT,
        'session': {'by': 'id', 'pattern': r'req-\d+'}, 'labels': {'path': './labels.csv', 'id': 'session_id', 'label': 'label'},
        'train_fraction': 0.8}))
    prepare_data(tmp_path/'run', dataset=str(tmp_path/'app.yaml'), data_root=tmp_path)
    train_base_model(tmp_path/'run', max_epochs=3, hidden=16)
    return tmp_path/'run'


def predicted(run, sessions, tmp_path) -> list[dict]:
    "`predict` on the lines of `sessions` written as one log file."
    (tmp_path/'all.log').write_text('\n'.join(l for s in sessions for l in s) + '\n')
    out = predict_file(run, tmp_path/'all.log', tmp_path/'p.jsonl', progress=False)['output']
    return read_predictions(out).to_dict('records')


def test_watch_follows_a_written_and_rotated_log_with_the_verdicts_of_predict(raw_run, tmp_path):
    new = [lines_of(100 + i, anomalous=i % 3 == 0) for i in range(12)]
    (tmp_path/'sessions.txt').write_text(''.join('|'.join(s) + '\n' for s in new))
    live, out = tmp_path/'live.log', tmp_path/'verdicts.jsonl'
    watcher = subprocess.Popen([EXE, 'watch', str(raw_run), str(live), '--output', str(out), '--idle', '1',
                                '--poll', '0.1', '--exit-idle', '4'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert watcher.stderr.readline().startswith('watching')          # the run is loaded: start writing
    writer = subprocess.run([sys.executable, '-c', WRITER, str(live), str(tmp_path/'sessions.txt')], capture_output=True, text=True)
    assert writer.returncode == 0, writer.stderr
    stdout, stderr = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, stderr[-2000:]
    assert (tmp_path/'live.log.1').is_file() and live.is_file()          # the log was rotated while watched
    got = {r['session_id']: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(got) == len(new) == int(stderr.split('sessions:')[1].split(',')[0])
    want = predicted(raw_run, new, tmp_path)
    assert sorted(got) == sorted(r['session_id'] for r in want)
    for r in want:
        assert (got[r['session_id']]['class'], got[r['session_id']]['is_anomaly']) == (r['class'], r['is_anomaly'])
    flagged = [r for r in got.values() if r['is_anomaly']]
    assert flagged                                                   # the panics are caught live, down to the raw line
    assert all(r['session_id'] in e['raw'] for r in flagged for e in r['explanation'] if 'line' in e)


def test_watch_reads_standard_input_to_its_end(raw_run, tmp_path):
    new = [lines_of(200 + i, anomalous=i == 2) for i in range(4)]
    r = subprocess.run([EXE, 'watch', str(raw_run), '-', '--idle', '30'], input='\n'.join(l for s in new for l in s) + '\n',
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = {v['session_id']: v['class'] for v in map(json.loads, r.stdout.splitlines())}   # closed at the end of input
    assert got == {v['session_id']: v['class'] for v in predicted(raw_run, new, tmp_path)}


def test_watch_reads_a_redirected_file_and_a_named_pipe(raw_run, tmp_path):
    import os, threading
    new = [lines_of(300 + i, anomalous=i == 1) for i in range(3)]
    text = '\n'.join(l for s in new for l in s) + '\n'
    (tmp_path/'in.log').write_text(text)
    want = {v['session_id']: v['class'] for v in predicted(raw_run, new, tmp_path)}
    with open(tmp_path/'in.log') as f:                                  # `watch RUN - < in.log`
        r = subprocess.run([EXE, 'watch', str(raw_run), '-'], stdin=f, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert {v['session_id']: v['class'] for v in map(json.loads, r.stdout.splitlines())} == want
    fifo = tmp_path/'pipe'; os.mkfifo(fifo)                             # a named pipe, written by another thread
    writer = threading.Thread(target=lambda: fifo.write_text(text)); writer.start()
    r = subprocess.run([EXE, 'watch', str(raw_run), str(fifo)], capture_output=True, text=True, timeout=120)
    writer.join()
    assert r.returncode == 0, r.stderr[-2000:]
    assert {v['session_id']: v['class'] for v in map(json.loads, r.stdout.splitlines())} == want

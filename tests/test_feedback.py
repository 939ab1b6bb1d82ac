"Operator feedback from the command line: a new type promoted from labels, renames, undo, bad input."
import json, shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest

from deeplog_mc.run import load_cluster_labels, load_sessions

CLI = [str(Path(sys.executable).parent/'deeplog-mc')]


def cli(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def run(quick_pipeline, tmp_path):
    "A copy of the session's quick pipeline run, free to change."
    return shutil.copytree(quick_pipeline, tmp_path/'run')


def test_label_promotes_a_type_that_undo_takes_back(run, tmp_path):
    df, _, _ = load_sessions(run); before = load_cluster_labels(run, df)
    metrics = (run/'metrics.json').read_text()
    ids = df.session_id[(df.split == 'fit') & (df.label == 1)].head(4)
    labels = tmp_path/'labels.csv'; pd.DataFrame({'session_id': ids, 'type': 'disk full'}).to_csv(labels, index=False)
    r = cli('feedback', run, '--label', labels)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out['promoted'] == ['disk full'] and 'disk full' in out['classes']
    cl = load_cluster_labels(run, df)
    assert cl.set_index('session_id').loc[list(ids), 'cluster_name'].eq('disk full').all()
    assert json.loads((run/'metrics.json').read_text())['new_type']['name'] == 'disk full'
    assert (run/'feedback'/'000'/'step.json').is_file()
    r = cli('feedback', run, '--undo')
    assert r.returncode == 0, r.stderr
    assert load_cluster_labels(run, df).equals(before)
    assert (run/'metrics.json').read_text() == metrics and not (run/'feedback'/'000').exists()


def test_rename_merges_two_types(run):
    names = load_cluster_labels(run).cluster_name.dropna().unique()
    r = cli('feedback', run, '--rename', f'{names[0]}={names[1]}')
    assert r.returncode == 0, r.stderr
    assert names[0] not in json.loads(r.stdout)['classes']
    assert load_cluster_labels(run).cluster[lambda s: s >= 0].nunique() == len(names) - 1


@pytest.mark.parametrize('text,message', [('session_id,type\nnot-a-session,x\n', 'line 2: expected the id of a session'),
                                          ('id,kind\n1,x\n', "columns ['session_id', 'type']")])
def test_bad_labels_are_refused_and_nothing_changes(run, tmp_path, text, message):
    before = (run/'features'/'cluster_labels.parquet').read_bytes()
    p = tmp_path/'labels.csv'; p.write_text(text)
    r = cli('feedback', run, '--label', p)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert (run/'features'/'cluster_labels.parquet').read_bytes() == before and not (run/'feedback').exists()


def test_nothing_to_undo_and_a_bad_rename_are_errors(run):
    r = cli('feedback', run, '--undo'); assert r.returncode == 2 and 'no feedback step to undo' in r.stderr
    r = cli('feedback', run, '--rename', 'oops'); assert r.returncode == 2 and 'OLD=NEW' in r.stderr

"Operator feedback from the command line: false positives, a new type promoted from labels, renames, undo, bad input."
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


def test_false_positives_stop_being_flagged_and_undo_takes_it_back(run, tmp_path):
    from deeplog_mc.detector import DeepLog, EventScores
    df, _, _ = load_sessions(run)
    model, scores = DeepLog.load(run/'models'/'base_model.pt'), EventScores.load(run/'scores'/'event_scores.npz')
    fp = df[(df.split == 'fit').to_numpy() & (df.label == 0).to_numpy() & (model.predict(scores=scores) == 1)]
    assert len(fp), 'the quick run should have false positives on fit'
    saved = {f: (run/f).read_bytes() for f in ('models/base_model.json', 'scores/event_scores.npz', 'metrics.json')}
    p = tmp_path/'fp.csv'; fp[['session_id']].to_csv(p, index=False)
    r = cli('feedback', run, '--false-positives', p)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout); m = json.loads((run/'metrics.json').read_text())['feedback']
    assert m['fp_after'] == out['fp_after'] <= out['fp_before'] and out['sessions'] == len(fp)
    assert out['sessions_flagged_after'] < out['sessions_flagged_before'] == len(fp)
    again = DeepLog.load(run/'models'/'base_model.pt')
    assert len(again.exemptions_) == out['rules'] > 0
    assert again.predict(fp.events).sum() == out['sessions_flagged_after']
    r = cli('feedback', run, '--undo')
    assert r.returncode == 0, r.stderr
    assert all((run/f).read_bytes() == b for f, b in saved.items())


def test_false_positives_refuse_test_sessions_and_mixed_steps(run, tmp_path):
    df, _, _ = load_sessions(run)
    p = tmp_path/'fp.csv'; df[df.split == 'test'][['session_id']].head(2).to_csv(p, index=False)
    r = cli('feedback', run, '--false-positives', p)
    assert r.returncode == 2 and 'line 2: expected a session outside test and val' in r.stderr, r.stderr
    r = cli('feedback', run, '--false-positives', p, '--rename', 'a=b')
    assert r.returncode == 2 and 'a step of its own' in r.stderr, r.stderr
    assert not (run/'feedback').exists()


def test_default_recall_budget_is_the_largest_studied_within_the_recall_line():
    "README's claim about --max-recall-loss, read off results/false_positives.json."
    from deeplog_mc.cli import build_parser
    from deeplog_mc.feedback_bench import FP_BUDGETS
    res = json.loads((Path(__file__).parents[1]/'results'/'false_positives.json').read_text())
    runs = pd.DataFrame(res['runs'])
    assert sorted(runs.max_recall_loss.unique()) == sorted(FP_BUDGETS) and runs.set.nunique() >= 4
    worst = runs.groupby('max_recall_loss').recall_loss.max()
    within = [b for b in FP_BUDGETS if worst[b] <= 0.01]
    default = build_parser().parse_args(['feedback', 'run']).max_recall_loss
    assert default == max(within)


def test_key_bound_holds_in_the_false_positive_study():
    "README's bound: no run of the study clears more test false positives than exempting every marked key would."
    res = json.loads((Path(__file__).parents[1]/'results'/'false_positives.json').read_text())
    runs = pd.DataFrame(res['runs'])
    assert {'fp_after_keys', 'halvable'} <= set(runs.columns)
    assert (runs.fp_after_keys <= runs.fp_after).all() and (runs.fp_after <= runs.fp_before).all()
    assert (runs.recall_after_keys <= runs.recall_after + 1e-12).all()   # clearing more never keeps more recall
    assert (runs.halvable == (runs.fp_after_keys <= runs.fp_before / 2)).all()

"Workflows recovered from normal sessions equal the synthetic generator's own, task by task."
import json

import pandas as pd
import pytest

from deeplog_mc.core import DataError
from deeplog_mc.synthetic import AUTH, HEARTBEAT, WORKFLOWS, generate_synthetic, workflow_edges
from deeplog_mc.workflows import Workflows


def generator_workflow(task_keys):
    "The generator's workflow whose steps hold every key of a recovered task."
    names = [w for w in WORKFLOWS if {k for e in workflow_edges(w) for k in e} >= set(task_keys)]
    assert len(names) == 1, f'task {task_keys} matches workflows {names}'
    return names[0]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_recovered_graph_equals_the_generators_for_every_task(seed):
    df = generate_synthetic(n_train=600, n_test_normal=0, n_per_type=1, noise=0, seed=seed)
    wf = Workflows().fit(df.events[df.label == 0])
    assert wf.shared_ == [AUTH]
    found = {generator_workflow(t): g for t, g in zip(wf.tasks_, wf.graphs_)}
    assert sorted(found) == sorted(WORKFLOWS)
    for name, g in found.items():
        assert set(g.edges) == workflow_edges(name), name


@pytest.mark.parametrize('seed', [0, 1])
def test_noise_keys_are_shared_and_the_rest_of_each_graph_is_the_generators(seed):
    df = generate_synthetic(n_train=800, n_test_normal=0, n_per_type=1, noise=0.05, seed=seed)
    wf = Workflows().fit(df.events[df.label == 0])
    assert wf.shared_ == sorted([AUTH, HEARTBEAT])
    for t, g in zip(wf.tasks_, wf.graphs_):
        assert set(g.subgraph(set(g) - {HEARTBEAT}).edges) == workflow_edges(generator_workflow(t))


def test_a_key_every_session_logs_is_shared_and_tasks_stay_apart():
    "A login line at the start of every session, whatever its task, does not join the tasks."
    df = generate_synthetic(n_train=600, n_test_normal=0, n_per_type=1, noise=0, seed=4)
    LOGIN = 9999
    wf = Workflows().fit([[LOGIN, *s] for s in df.events[df.label == 0]])
    assert wf.shared_ == sorted([AUTH, LOGIN]) and len(wf.tasks_) == len(WORKFLOWS)
    for t, g in zip(wf.tasks_, wf.graphs_):
        want = {e for e in workflow_edges(generator_workflow(t)) if e[0] != 'start'}   # the login comes first now
        assert set(g.subgraph(set(g) - {LOGIN, 'start'}).edges) == want


def test_order_anomalies_leave_their_workflow_at_the_swapped_step():
    df = generate_synthetic(n_train=600, n_test_normal=0, n_per_type=30, noise=0, seed=3)
    wf = Workflows().fit(df.events[df.label == 0])
    an = df[df.type == 'out_of_order']; dep = wf.departures(an.events)
    assert dep.task.notna().all()
    for s, (_, d) in zip(an.events, dep.iterrows()):     # the step it reports is the one the session takes there
        path = ['start', *map(str, s), 'end']
        assert (path[d.position], path[d.position + 1]) == (d.source, d.target)


def test_a_pipeline_run_holds_its_workflows(quick_pipeline):
    m = json.loads((quick_pipeline/'metrics.json').read_text())['workflows']
    assert len(m['tasks']) == 3 and m['test']['normal_leaving'] <= 0.05 and m['test']['anomalous_leaving'] >= 0.8
    wf = Workflows.load(quick_pipeline/'models'/'workflows.json')
    assert [len(t) for t in wf.tasks_] == m['tasks']
    dep = pd.read_parquet(quick_pipeline/'scores'/'departures.parquet')
    assert list(dep.columns) == ['session_id', 'task', 'position', 'source', 'target']


def test_a_file_that_is_not_workflows_is_refused(tmp_path):
    p = tmp_path/'workflows.json'; p.write_text('{"graphs": []}')
    with pytest.raises(DataError, match='workflows written by Workflows.save'): Workflows.load(p)

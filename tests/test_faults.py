"Faults: a run killed with SIGKILL in the middle of every stage resumes to the same figures as a run never killed."
import json, os, signal, subprocess, sys, time
from pathlib import Path

from deeplog_mc.runner import STAGES
from conftest import QUICK_RUN

EXE = str(Path(sys.executable).parent/'deeplog-mc')


def figures(run) -> dict:
    "metrics.json without the stage bookkeeping and without timings, which differ between any two runs."
    def strip(v):
        if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if 'seconds' not in k}
        return [strip(x) for x in v] if isinstance(v, list) else v
    m = json.loads((run/'metrics.json').read_text()); m.pop('stages')
    return strip(m)


def tree(pid) -> list[int]:
    "`pid` and all its descendants (the stage's kernel among them)."
    try: kids = Path(f'/proc/{pid}/task/{pid}/children').read_text().split()
    except OSError: kids = []
    return [pid] + [p for k in kids for p in tree(int(k))]


def stage_status(run, stage):
    try: return json.loads((run/'metrics.json').read_text())['stages'].get(stage, {}).get('status')
    except (OSError, ValueError, KeyError): return None


def test_killed_in_every_stage_then_resumed_gives_the_figures_of_an_uninterrupted_run(tmp_path, quick_pipeline):
    run, cmd = tmp_path/'killed', [EXE, 'run', '--name', 'killed', '--runs-dir', str(tmp_path), '--resume', *QUICK_RUN]
    for stage in STAGES:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(1200):                                      # until this stage is running
            if stage_status(run, stage) == 'running' or p.poll() is not None: break
            time.sleep(0.05)
        assert stage_status(run, stage) == 'running', f'{stage} never ran: {p.communicate()[1][-1000:]}'
        time.sleep(1.0)                                            # into the stage
        for pid in tree(p.pid):
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
        p.wait()
        assert p.returncode == -signal.SIGKILL and stage_status(run, stage) == 'running'
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert figures(run) == figures(quick_pipeline)
    assert not (run/'.lock').exists()

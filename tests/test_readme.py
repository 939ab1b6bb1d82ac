"README's Python example runs as written (in an empty folder), and its tables come from results JSON."
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(tmp_path):
    blocks = re.findall(r'```python\n(.*?)```', (ROOT/'README.md').read_text(), flags=re.S)
    assert blocks, 'README has no Python example'
    for code in blocks:
        r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, 'OMP_NUM_THREADS': '1'})
        assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path/'runs'/'example'/'models'/'multiclass_model.pt').is_file()


def test_readme_tables_are_rendered_from_results():
    text = (ROOT/'README.md').read_text()
    for name in re.findall(r'<!-- study:(\w+) -->', text):
        assert (ROOT/'results'/f'{name}.json').is_file(), f'README block study:{name} has no results/{name}.json'
        block = re.search(rf'<!-- study:{name} -->(.*?)<!-- /study:{name} -->', text, flags=re.S).group(1)
        from deeplog_mc.core import read_json
        from deeplog_mc.studies import results_table
        res = read_json(ROOT/'results'/f'{name}.json')
        assert block.strip() == results_table(res, res.get('columns')).strip(), f'run `make readme`: block {name} is stale'


def test_targets_are_derived_from_the_current_study_results(tmp_path):
    "results/targets.json is what write_targets reads from the study JSONs now: `make readme` was run after them."
    import shutil
    from deeplog_mc.core import read_json
    from deeplog_mc.targets import TARGETS, write_targets
    for name in {t.source for t in TARGETS}:
        assert (ROOT/'results'/f'{name}.json').is_file(), f'results/{name}.json is missing: run its study'
        shutil.copy(ROOT/'results'/f'{name}.json', tmp_path)
    fresh = write_targets(tmp_path)
    assert fresh['missing'] == [] and len(fresh['rows']) == len(TARGETS)
    assert all(r['holds'] != 'not measured' for r in fresh['rows']), 'a target the study JSONs do not measure'
    assert read_json(ROOT/'results'/'targets.json') == fresh, 'run `make readme`: results/targets.json is stale'

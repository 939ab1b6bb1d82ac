"Every exported module imports on its own (catches exported cells that use notebook-only variables)."
import pkgutil, subprocess, sys
from pathlib import Path

import deeplog_mc


def test_every_module_imports_in_a_fresh_process():
    mods = [m.name for m in pkgutil.iter_modules(deeplog_mc.__path__, 'deeplog_mc.')]
    assert 'deeplog_mc.stages' in mods and 'deeplog_mc.cli' in mods
    code = ('import importlib, traceback\nfor m in %r:\n    try: importlib.import_module(m)\n'
            '    except Exception: print(m); traceback.print_exc()' % mods)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)   # one fresh process, every module
    assert r.returncode == 0 and not r.stdout.strip(), f'import failed: {r.stdout}\n{r.stderr}'


def test_console_command_is_installed():
    exe = Path(sys.executable).parent/'deeplog-mc'
    r = subprocess.run([str(exe), 'run', '--help'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for flag in ('--name', '--runs-dir', '--preset', '--config', '--param', '--resume'):
        assert flag in r.stdout

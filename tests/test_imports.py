"Every exported module imports on its own (catches exported cells that use notebook-only variables)."
import pkgutil, subprocess, sys
from pathlib import Path

import deeplog_mc


def test_every_module_imports_in_a_fresh_process():
    mods = [m.name for m in pkgutil.iter_modules(deeplog_mc.__path__, 'deeplog_mc.')]
    assert 'deeplog_mc.data' in mods and 'deeplog_mc.pipeline' in mods
    for m in mods:
        r = subprocess.run([sys.executable, '-c', f'import {m}'], capture_output=True, text=True)
        assert r.returncode == 0, f'import {m} failed:\n{r.stderr}'


def test_console_command_is_installed():
    exe = Path(sys.executable).parent/'deeplog-mc'
    r = subprocess.run([str(exe), 'run', '--help'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for flag in ('--name', '--runs-dir', '--preset', '--config', '--param', '--resume'):
        assert flag in r.stdout

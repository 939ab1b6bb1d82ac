"Configuration is declared once: every stage notebook's parameters cell is derived from its dataclass."
import ast, dataclasses, json

import papermill as pm
import pytest

from deeplog_mc.config import PRESETS, STAGE_CONFIGS, parameters, parameters_source
from deeplog_mc.runner import stage_notebooks


@pytest.mark.parametrize('stage', list(STAGE_CONFIGS))
def test_parameters_cell_equals_the_stage_configuration(stage):
    nb = json.loads(stage_notebooks([stage])[stage].read_text())
    cells = [c for c in nb['cells'] if 'parameters' in c['metadata'].get('tags', [])]
    assert len(cells) == 1, f'{stage}: expected one parameters cell'
    assert ''.join(cells[0]['source']).strip() == parameters_source(stage), \
        f'{stage}: the parameters cell differs from deeplog_mc.config; regenerate it from parameters_source({stage!r})'
    declared = pm.inspect_notebook(str(stage_notebooks([stage])[stage]))
    fields = {f.name: f.default for f in dataclasses.fields(STAGE_CONFIGS[stage])}
    assert set(declared) == set(fields) | {'run_dir'}
    for name, default in fields.items():
        assert ast.literal_eval(declared[name]['default']) == default, name


def test_presets_name_known_settings_and_every_setting_has_help():
    known = parameters()
    for preset, values in PRESETS.items():
        assert set(values) <= set(known), f'{preset}: {set(values) - set(known)}'
    assert all(p['help'] and '=' not in p['help'] for p in known.values())   # papermill drops a help with '='


def test_a_shared_name_means_the_same_in_every_stage():
    for name, p in parameters().items():
        defaults = {dataclasses.fields(STAGE_CONFIGS[s])[[f.name for f in dataclasses.fields(STAGE_CONFIGS[s])].index(name)].default
                    for s in p['stages']}
        assert len(defaults) == 1, name

"Nothing is unpickled from a run folder: a pickle planted in place of each saved model or array is refused unread."
import pickle, shutil

import pytest

from deeplog_mc.core import DataError
from deeplog_mc.detector import DeepLog, EventScores
from deeplog_mc.clustering import AnomalyClusterer
from deeplog_mc.classifier import EnhancedDeepLogModel
from deeplog_mc.predict import AnomalyTyper


class Planted:
    "Unpickling this writes a marker file: proof that the pickle was loaded."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, 'w'))


@pytest.fixture(scope='module')
def run(synthetic_run):
    return synthetic_run('planted', 200, 80, 8, base_epochs=3, until='classifier', classifier_epochs=2)


# the binary files a run folder holds, and how the product reads each
LOADERS = {'models/base_model.pt': lambda r: DeepLog.load(r/'models'/'base_model.pt'),
           'models/multiclass_model.pt': lambda r: EnhancedDeepLogModel.load(r/'models'/'multiclass_model'),
           'models/cluster_model.npz': lambda r: AnomalyClusterer.load(r/'models'/'cluster_model'),
           'scores/event_scores.npz': lambda r: EventScores.load(r/'scores'/'event_scores.npz'),
           'models/base_model.pt (through AnomalyTyper)': lambda r: AnomalyTyper.load(r)}


@pytest.mark.parametrize('name', list(LOADERS))
def test_a_planted_pickle_is_never_loaded(run, tmp_path, name):
    r = tmp_path/'run'; shutil.copytree(run, r); marker = tmp_path/'unpickled'
    target = r/name.split(' ')[0]
    assert target.is_file(), target
    target.write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(DataError, match=target.name.replace('.', r'\.')):
        LOADERS[name](r)
    assert not marker.exists(), f'{name}: the planted pickle was unpickled'

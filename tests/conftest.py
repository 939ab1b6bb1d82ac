import os
from pathlib import Path

import pytest

from deeplog_mc.core import resolve_data_root


@pytest.fixture(scope='session')
def data_root() -> Path:
    "The real-data root; a test that needs it fails (never skips) with a clear message when it is missing."
    root = resolve_data_root()
    if not (root/'hdfs'/'train').is_file():
        pytest.fail(f'real data not found at {root} (expected {root}/hdfs/train). Put ../shared/data beside the '
                    'project or set DEEPLOG_MC_DATA to its path.', pytrace=False)
    return root


@pytest.fixture(scope='session')
def synthetic_run(tmp_path_factory):
    """Build a small synthetic run folder through the stages up to `until` (features, clusters or classifier):
    `synthetic_run(name, n_train, n_test_normal, n_per_type, base_epochs, until, classifier_epochs)`."""
    def make(name, n_train, n_test_normal, n_per_type, base_epochs, until='features', classifier_epochs=20):
        from deeplog_mc.stages import cluster_anomalies, extract_features, prepare_data, train_base_model
        r = tmp_path_factory.mktemp(name)
        prepare_data(r, seed=0, n_train=n_train, n_test_normal=n_test_normal, n_per_type=n_per_type)
        train_base_model(r, seed=0, max_epochs=base_epochs, patience=3); extract_features(r)
        if until in ('clusters', 'classifier'): cluster_anomalies(r, baselines=False)
        if until == 'classifier':
            from deeplog_mc.stages import train_classifier
            train_classifier(r, seed=0, classifier_epochs=classifier_epochs, classifier_patience=4)
        return r
    return make


QUICK_RUN = ['--preset', 'quick', '-p', 'n_train', '60', '-p', 'n_test_normal', '30', '-p', 'n_per_type', '4']


@pytest.fixture(scope='session')
def quick_pipeline(tmp_path_factory) -> Path:
    "One uninterrupted `deeplog-mc run` of every stage on small synthetic data (`QUICK_RUN`), in its own process."
    import subprocess, sys
    runs = tmp_path_factory.mktemp('quick_pipeline')
    r = subprocess.run([str(Path(sys.executable).parent/'deeplog-mc'), 'run', '--name', 'whole', '--runs-dir', str(runs),
                        *QUICK_RUN], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return runs/'whole'

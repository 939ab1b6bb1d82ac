import os
from pathlib import Path

import pytest

from deeplog_mc.utils import resolve_data_root


@pytest.fixture(scope='session')
def data_root() -> Path:
    "The real-data root; a test that needs it fails (never skips) with a clear message when it is missing."
    root = resolve_data_root()
    if not (root/'hdfs'/'train').is_file():
        pytest.fail(f'real data not found at {root} (expected {root}/hdfs/train). Put ../shared/data beside the '
                    'project or set DEEPLOG_MC_DATA to its path.', pytrace=False)
    return root

import os

import pytest
import torch

# Under pytest-xdist each worker gets one core: more threads per process only oversubscribe the machine
# (and the training subprocesses some tests start inherit the setting).
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = '1'
    torch.set_num_threads(1)
else:
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield

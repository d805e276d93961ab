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


# ---- real data (the `real` tier) -------------------------------------------------------------
# Tests marked `real` train and validate on real images at real counts. They look for the tars
# of ../shared/data (or $FOVEA_REAL_DATA, a folder holding them), extract each once into a cache
# folder shared by xdist workers, and skip where the data is absent.

_REAL_TARS = {'cifar10': 'cifar10-jpg.tar', 'imagenette': 'imagenette2-224-val.tar'}


def _find_real_tar(name: str):
    from pathlib import Path
    tar_name = _REAL_TARS[name]
    candidates = []
    if os.environ.get('FOVEA_REAL_DATA'):
        candidates.append(Path(os.environ['FOVEA_REAL_DATA']))
    here = Path(__file__).resolve().parent
    for parent in [here, *here.parents]:
        candidates.append(parent / 'shared' / 'data')
    for folder in candidates:
        if (folder / tar_name).is_file():
            return folder / tar_name
    return None


def real_data_root(name: str):
    """Folder holding the extracted real dataset `name` ('cifar10' or 'imagenette'); skips if absent."""
    import fcntl
    import tarfile
    from pathlib import Path
    tar_path = _find_real_tar(name)
    if tar_path is None:
        pytest.skip(f'real data {_REAL_TARS[name]} not found (../shared/data or $FOVEA_REAL_DATA)')
    cache = Path(os.environ.get('FOVEA_REAL_DATA_CACHE', '/tmp/fovea-real-data')) / name
    cache.mkdir(parents=True, exist_ok=True)
    done = cache / '.extracted'
    with open(cache / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            with tarfile.open(tar_path) as tar:
                extra = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
                tar.extractall(cache, **extra)
            done.write_text(str(tar_path))
    return cache


@pytest.fixture(scope='session')
def cifar10_root():
    """CIFAR-10 as class-folder JPEGs: <root>/train/<class>/*.jpg (50,000), <root>/test/<class>/*.jpg (10,000)."""
    return real_data_root('cifar10')


@pytest.fixture(scope='session')
def imagenette_root():
    """Imagenette v2 validation images: <root>/val/<wnid>/*.JPEG (3,925 at 224x224)."""
    return real_data_root('imagenette')

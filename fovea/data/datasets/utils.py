"""Helpers for the built-in datasets: downloads with MD5 checks, archive extraction, safe unpickling."""
from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
import tarfile
import urllib.request
from typing import Any

from fovea.utils.errors import DataError

__all__ = ['check_md5', 'download_url', 'download_and_extract_archive', 'safe_pickle_load', 'open_maybe_gz',
           'report_split']

logger = logging.getLogger('fovea')


def check_md5(path: str, md5: str, chunk: int = 1 << 20) -> bool:
    h = hashlib.md5()
    with open(path, 'rb') as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest() == md5


def download_url(url: str, root: str, filename: str | None = None, md5: str | None = None) -> str:
    """Download ``url`` into ``root`` (atomically); an existing file with the right MD5 is kept."""
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, filename or os.path.basename(url))
    if os.path.isfile(path) and (md5 is None or check_md5(path, md5)):
        return path
    logger.info('downloading %s to %s', url, path)
    tmp = path + '.part'
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, 'wb') as out:
            while block := resp.read(1 << 20):
                out.write(block)
    except OSError as exc:
        raise DataError(f'could not download {url}: {exc}. Download it by hand into {root} '
                        f'(or run with internet access).') from None
    if md5 is not None and not check_md5(tmp, md5):
        os.remove(tmp)
        raise DataError(f'{url} downloaded with a wrong MD5 (expected {md5}); try again.')
    os.replace(tmp, path)
    return path


def download_and_extract_archive(url: str, root: str, filename: str | None = None, md5: str | None = None) -> None:
    """Download a .tar(.gz) archive and extract it into ``root`` (or gunzip a .gz file)."""
    path = download_url(url, root, filename, md5)
    if path.endswith(('.tar.gz', '.tgz', '.tar')):
        with tarfile.open(path) as tar:
            tar.extractall(root, filter='data')
    elif path.endswith('.gz'):
        with gzip.open(path, 'rb') as f, open(path[:-3], 'wb') as out:
            out.write(f.read())


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only (what the CIFAR batches hold)."""

    _ALLOWED = {
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', 'scalar'), ('_codecs', 'encode'), ('copyreg', '_reconstructor'),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refusing to unpickle {module}.{name}')


def safe_pickle_load(path: str) -> Any:
    """Load a pickle that may only contain containers, strings, numbers and NumPy arrays."""
    try:
        with open(path, 'rb') as f:
            return _RestrictedUnpickler(io.BytesIO(f.read()), encoding='latin1').load()
    except FileNotFoundError:
        raise DataError(f'{path} does not exist') from None
    except Exception as exc:
        raise DataError(f'cannot read {path}: {exc}. The file is corrupt or not in the official format.') from None


def open_maybe_gz(path: str) -> bytes:
    """The bytes of ``path``, or of ``path + '.gz'`` decompressed when only that exists."""
    if os.path.isfile(path):
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rb') as f:
            return f.read()
    if os.path.isfile(path + '.gz'):
        with gzip.open(path + '.gz', 'rb') as f:
            return f.read()
    raise DataError(f'{path} (or {os.path.basename(path)}.gz) does not exist')


def report_split(dataset: Any, loaded: str, selected_by: str, n: int, source: str, mismatch: str = '') -> None:
    """Log in one line which split a dataset with fixed train/test files loaded (``selected_by``: the
    argument that chose it); ``mismatch``: the fix to suggest where ``split`` and ``test_mode`` disagree."""
    name = type(dataset).__name__
    logger.info(f'{name}: loaded the {loaded} split ({n:,} samples, selected by {selected_by}) from {source}')
    if mismatch:
        logger.warning(f'{name}: split={getattr(dataset, "split", None)!r} and test_mode={dataset.test_mode} '
                       f'disagree; the {loaded} files were loaded because {name} selects its files by '
                       f'{selected_by.split("=")[0]}, as MMPretrain 1.x does. {mismatch}')

"""Download files into fovea's cache, verified by SHA-256 when the checksum is known."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from fovea.utils.errors import CheckpointError
from fovea.utils.io import atomic_open

__all__ = ['cache_dir', 'download_to_cache', 'sha256sum', 'hash_from_filename']

logger = logging.getLogger('fovea')


def cache_dir() -> Path:
    """``$FOVEA_HOME`` or ``~/.cache/fovea``."""
    return Path(os.environ.get('FOVEA_HOME', Path.home() / '.cache' / 'fovea'))


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_NAME_HASH = re.compile(r'-([0-9a-f]{8,64})\.[A-Za-z0-9]+$')


def hash_from_filename(name: str) -> str | None:
    """The SHA-256 prefix that OpenMMLab and torch.hub put at the end of weight file names
    (``resnet50_8xb32_in1k_20210831-ea4938fc.pth`` -> ``'ea4938fc'``), or None."""
    m = _NAME_HASH.search(name)
    # all-digit suffixes are dates (model-20220218.pth), not hashes
    return m.group(1) if m and not m.group(1).isdigit() else None


def download_to_cache(url: str, sha256: str | None = None, filename: str | None = None) -> Path:
    """Return the cached file for ``url``, downloading it first if needed.

    The file is verified against ``sha256`` (a prefix of the hex digest is enough; when none is
    given, the hash prefix in the file name, as torch.hub does) before it enters the cache: a
    download that does not match is deleted and is an error. A cached file that no longer matches
    (damaged on disk) is downloaded again.
    """
    name = filename or Path(urllib.parse.urlparse(url).path).name or 'download'
    if '/' in name or '\\' in name or name in ('.', '..'):
        raise CheckpointError(f'Invalid file name {name!r} for the download of {url}.')
    expected = (sha256 or hash_from_filename(name) or '').lower() or None
    dest = cache_dir() / 'checkpoints' / name
    if dest.exists() and expected and not sha256sum(dest).startswith(expected):
        logger.warning('%s does not match its SHA-256 %s any more (damaged?); downloading it again.', dest, expected)
        dest.unlink()
    if not dest.exists():
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, atomic_open(dest, 'wb') as out:
                h = hashlib.sha256()
                while block := resp.read(1 << 20):
                    h.update(block)
                    out.write(block)
                digest = h.hexdigest()
                if expected and not digest.startswith(expected):  # raised inside: the temp file is removed
                    raise _HashMismatch(digest)
        except _HashMismatch as exc:
            raise CheckpointError(f'The download of {url} has SHA-256 {exc.args[0]}, expected {expected}. The file is '
                                  f'corrupt or was tampered with; it was not kept. Try again later or check the URL.'
                                  ) from None
        except OSError as exc:
            raise CheckpointError(f'Could not download {url}: {exc}. Download it by hand and pass the local path.'
                                  ) from None
    if expected is None:
        logger.warning('No SHA-256 is recorded for %s; its integrity was not verified.', url)
    return dest


class _HashMismatch(Exception):
    pass

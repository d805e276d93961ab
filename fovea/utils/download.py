"""Download files into fovea's cache, verified by SHA-256 when the checksum is known."""
from __future__ import annotations

import hashlib
import os
import urllib.parse
import urllib.request
from pathlib import Path

from fovea.utils.errors import CheckpointError
from fovea.utils.io import atomic_open

__all__ = ['cache_dir', 'download_to_cache', 'sha256sum']


def cache_dir() -> Path:
    """``$FOVEA_HOME`` or ``~/.cache/fovea``."""
    return Path(os.environ.get('FOVEA_HOME', Path.home() / '.cache' / 'fovea'))


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download_to_cache(url: str, sha256: str | None = None, filename: str | None = None) -> Path:
    """Return the cached file for ``url``, downloading it first if needed.

    A file whose SHA-256 differs from ``sha256`` (a prefix of the hex digest is enough) is an
    error, for a fresh download and for a cached file alike.
    """
    name = filename or Path(urllib.parse.urlparse(url).path).name or 'download'
    dest = cache_dir() / 'checkpoints' / name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, atomic_open(dest, 'wb') as out:
                while block := resp.read(1 << 20):
                    out.write(block)
        except OSError as exc:
            raise CheckpointError(f'Could not download {url}: {exc}. Download it by hand and pass the local path.'
                                  ) from None
    if sha256:
        digest = sha256sum(dest)
        if not digest.startswith(sha256.lower()):
            raise CheckpointError(f'{dest} (from {url}) has SHA-256 {digest}, expected {sha256}. The download is '
                                  f'corrupt or was tampered with; delete the file and try again.')
    return dest

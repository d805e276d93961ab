"""Atomic file writing: a temporary file in the same folder, fsync, then rename.

A reader never sees a half-written file, and a failed write (disk full, no
permission, the process killed) leaves the previous file untouched and no
temporary file behind.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, IO, Iterator

from fovea.utils.errors import FoveaError


class SaveError(FoveaError, OSError):
    """Writing a file failed; the previous version (if any) is intact."""


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    except OSError as exc:
        raise _explain(exc, path) from exc
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, SaveError):
            raise _explain(exc, path) from exc
        raise


def _explain(exc: OSError, path: Path) -> SaveError:
    if exc.errno == errno.ENOSPC:
        why = 'the disk is full; free space or choose another work_dir'
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = 'the folder is not writable; fix its permissions or choose another work_dir'
    else:
        why = exc.strerror or str(exc)
    return SaveError(f'Could not write {path}: {why}. Any previous version of the file is unchanged.')


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, 'wb') as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_save(path: str | os.PathLike, writer: Callable[[IO], None]) -> None:
    """Call ``writer(file)`` on a temporary file that replaces ``path`` on success."""
    with atomic_open(path, 'wb') as f:
        writer(f)

"""Atomic file writing: a temporary file in the same folder, fsync, then rename.

A reader never sees a half-written file, and a failed write (disk full, no
permission, the process killed) leaves the previous file untouched and no
temporary file behind.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Callable, IO, Iterator

from fovea.utils.errors import FoveaError

__all__ = ['SaveError', 'atomic_open', 'atomic_write_bytes', 'atomic_write_text', 'atomic_save',
           'explain_os_error', 'remove_stale_temp_files', 'create_exclusive_dir']


class SaveError(FoveaError, OSError):
    """Writing a file failed; the previous version (if any) is intact."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()
_HOST = re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname())[:40] or 'host'
# temporary files are named .<target name>.<host>-<pid>.<random>.tmp, so a later run can tell
# the leftovers of a killed process (same host, process gone) from files being written now
_TMP_RE = re.compile(r'^\.(?P<target>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[^.]+\.tmp$')


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    The file gets the usual permissions (``0o666`` minus the umask, or those of the file it
    replaces), is fsynced before the rename and the folder after it, so the new version
    survives a crash of the machine too.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.{_HOST}-{os.getpid()}.', suffix='.tmp', dir=path.parent)
    except OSError as exc:
        raise explain_os_error(exc, path) from exc
    try:
        with os.fdopen(fd, mode) as f:
            try:
                mode_bits = path.stat().st_mode & 0o777
            except OSError:
                mode_bits = 0o666 & ~_UMASK
            os.fchmod(f.fileno(), mode_bits)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, SaveError):
            raise explain_os_error(exc, path) from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not supported everywhere (Windows, some network file systems)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def explain_os_error(exc: OSError, path: str | os.PathLike) -> SaveError:
    """A :class:`SaveError` saying in words why ``path`` could not be written."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = 'the disk is full (or the disk quota is used up); free space or choose another work_dir'
    elif exc.errno == errno.EFBIG:
        why = 'the file is larger than the file system or a file-size limit (ulimit -f) allows'
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = 'the folder is not writable; fix its permissions or choose another work_dir'
    else:
        why = exc.strerror or str(exc)
    return SaveError(f'Could not write {path}: {why} [{errno.errorcode.get(exc.errno, exc.errno)}]. '
                     f'Any previous version of the file is unchanged.')


_explain = explain_os_error


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed processes of this host left in ``folder``.

    Only files named by :func:`atomic_open` whose process no longer runs are removed; files
    that a live process (or another machine) is writing are left alone. Returns the removed paths.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.glob('.*.tmp'):
        m = _TMP_RE.match(p.name)
        if m and m['host'] == _HOST and int(m['pid']) != os.getpid() and not _pid_alive(int(m['pid'])):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def create_exclusive_dir(parent: str | os.PathLike, name: str) -> Path:
    """Create the new folder ``parent/name`` (``name_1``, ``name_2``, ... when it exists already, e.g. a
    second training run started into the same work dir in the same second) and return it. The
    creation is atomic (``mkdir`` without ``exist_ok``), so two processes never get the same folder."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for i in range(10_000):
            folder = parent / (name if i == 0 else f'{name}_{i}')
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise explain_os_error(exc, parent) from exc
    raise SaveError(f'{parent} already holds {name} and 9,999 numbered variants of it; clean up the folder.')


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, 'wb') as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_save(path: str | os.PathLike, writer: Callable[[IO], None]) -> None:
    """Call ``writer(file)`` on a temporary file that replaces ``path`` on success."""
    with atomic_open(path, 'wb') as f:
        writer(f)

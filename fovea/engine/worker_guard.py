"""Name the sample a DataLoader worker process was loading when it died.

A Python exception in a worker reaches the main process with its message (the dataset names the
file). A worker that dies outright (segfault in a decoder, killed for memory) only yields
"DataLoader worker (pid 123) exited unexpectedly". :func:`guard_workers` makes every worker record
its pid and the index it is loading in shared memory; :func:`worker_deaths_explained` turns that
error into a :class:`DataError` naming the sample's file.

torch also reports a dead worker from its SIGCHLD handler, which raises wherever the main process happens
to be when the signal arrives: inside a hook, inside error handling, or after the run has already failed
(a persistent worker killed while the program reports another error). For the workers of guarded loaders
fovea filters that report out (:func:`_install_sigchld_filter`): the loader's own check, which raises
from ``next()`` inside :func:`worker_deaths_explained` within a few seconds, is then the one place a
worker death surfaces.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import weakref
from functools import partial
from typing import Any, Callable, Iterable, Iterator

import torch

from fovea.utils.errors import ConfigError, DataError, did_you_mean

__all__ = ['guard_workers', 'worker_deaths_explained', 'worker_start_method']


def _recording_class(cls: type, slots: torch.Tensor, worker_id: int) -> type:
    def getitem(self, idx, _orig=cls.__getitem__):
        slots[worker_id] = int(idx)
        out = _orig(self, idx)
        slots[worker_id] = -1
        return out
    return type(cls.__name__, (cls,), {'__getitem__': getitem, '__module__': cls.__module__,
                                       '__qualname__': cls.__qualname__})


def _init_worker(worker_id: int, slots: torch.Tensor, pids: torch.Tensor, inner: Callable | None) -> None:
    pids[worker_id] = os.getpid()
    if inner is not None:
        inner(worker_id)
    info = torch.utils.data.get_worker_info()
    ds = info.dataset if info is not None else None
    if ds is not None and getattr(type(ds), '__getitems__', None) is None:
        try:  # this worker's own copy of the dataset records the index it is loading
            ds.__class__ = _recording_class(type(ds), slots, worker_id)
        except TypeError:  # classes whose instances cannot change class: no record, no harm
            pass


def guard_workers(loader: Any) -> Any:
    """Let ``loader``'s worker processes record what they load (no effect with ``num_workers=0``)."""
    n = int(getattr(loader, 'num_workers', 0) or 0)
    if n == 0 or hasattr(loader, '_fovea_slots'):
        return loader
    slots = torch.full((n,), -1, dtype=torch.int64).share_memory_()
    pids = torch.zeros(n, dtype=torch.int64).share_memory_()
    loader.worker_init_fn = partial(_init_worker, slots=slots, pids=pids, inner=loader.worker_init_fn)
    loader._fovea_slots, loader._fovea_pids = slots, pids
    _GUARDED.add(loader)
    _install_sigchld_filter()
    return loader


_GUARDED: 'weakref.WeakSet[Any]' = weakref.WeakSet()
_filter_installed = False


def _dead_pids(msg: str) -> set[int]:
    """The pids in torch's "DataLoader worker (pid(s) 12, 34) ..." message."""
    return {int(p) for p in re.findall(r'\d+', msg.split('worker', 1)[1].split(')')[0])} if 'worker' in msg else set()


def _guarded_pids() -> set[int]:
    return {p for loader in list(_GUARDED) for p in loader._fovea_pids.tolist() if p}


def _install_sigchld_filter() -> None:
    """Wrap torch's SIGCHLD handler so that it never raises for a worker of a guarded loader (see the
    module docstring); deaths of other loaders' workers are reported as torch does. Main thread only."""
    global _filter_installed
    if _filter_installed or not hasattr(signal, 'SIGCHLD') or threading.current_thread() is not threading.main_thread():
        return
    from torch.utils.data._utils import signal_handling
    signal_handling._set_SIGCHLD_handler()   # torch installs it once per process; install it now to wrap it
    torch_handler = signal.getsignal(signal.SIGCHLD)
    if not callable(torch_handler):
        return

    def handler(signum: int, frame: Any) -> None:
        try:
            torch_handler(signum, frame)
        except RuntimeError as exc:
            dead = _dead_pids(str(exc))
            if not dead or not dead <= _guarded_pids():
                raise
    signal.signal(signal.SIGCHLD, handler)
    _filter_installed = True


def _describe(loader: Any, idx: int) -> str:
    try:
        info = loader.dataset.get_data_info(idx)
        path = info.get('img_path') or info.get('filename') or info.get('img_info', {}).get('filename')
    except Exception:
        path = None
    return f'sample {idx} ({path})' if path else f'sample {idx}'


def _process_gone(pid: int) -> bool:
    """Whether process ``pid`` has died (a zombie counts; nothing is reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: signal 0 tells whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            pass
        return False


def _explain(exc: BaseException, loaders: Iterable[Any]) -> DataError | None:
    """A DataError naming what the dead workers were loading, or None when no guarded worker died.

    Besides torch's "DataLoader worker (pid N) ..." error, a worker's death shows up as whatever failed
    first in the main process, e.g. ConnectionResetError while fetching a batch the dead worker had
    sent (its tensors are passed as file descriptors that the worker hands out); then the dead pids
    are found by looking at the workers."""
    msg = str(exc)
    torch_report = isinstance(exc, RuntimeError) and 'DataLoader worker' in msg
    found = []
    for loader in loaders:
        slots = getattr(loader, '_fovea_slots', None)
        if slots is None:
            continue
        pids = loader._fovea_pids.tolist()
        busy = [(w, int(i)) for w, i in enumerate(slots.tolist()) if i >= 0]
        dead = _dead_pids(msg) if torch_report else {p for p in pids if p and _process_gone(p)}
        found += [(loader, i) for w, i in busy if pids[w] in dead] or \
            ([(loader, i) for _, i in busy] if torch_report and not dead else [])
    if not found:
        return None
    what = '; '.join(_describe(loader, i) for loader, i in found)
    first = msg.splitlines()[0] if msg else ''
    cause = first if torch_report else f'{type(exc).__name__}: {first}'
    return DataError(f'A data loader worker process died ({cause}) while loading {what}. '
                     f'The file probably crashes the decoder or needs too much memory: check or remove it '
                     f'(`fovea verify-dataset` scans a dataset), or use num_workers=0 to see the error in the '
                     f'main process.')


@contextlib.contextmanager
def worker_deaths_explained(*loaders: Any) -> Iterator[None]:
    """Turn a worker process's death (torch's "DataLoader worker (pid N) exited/killed", or the error it
    causes first in the main process) into a :class:`DataError` naming the sample that worker was
    loading. fovea's own errors pass unchanged."""
    try:
        yield
    except Exception as exc:
        from fovea.utils.errors import FoveaError
        err = None if isinstance(exc, FoveaError) else _explain(exc, [ld for ld in loaders if ld is not None])
        if err is None:
            raise
        raise err from exc


_MP_KEYS = ('mp_start_method', 'opencv_num_threads')


def worker_start_method(mp_cfg: dict | None) -> str | None:
    """``env_cfg.mp_cfg`` as MMPretrain names it: ``mp_start_method`` ('fork', 'spawn', 'forkserver')
    is how the Runner's loaders start their worker processes (None: Python's default, which is
    'forkserver' on Linux from Python 3.14); ``opencv_num_threads`` sets OpenCV's thread count when
    OpenCV is installed (fovea itself decodes without it). Returns the start method."""
    mp_cfg = dict(mp_cfg or {})
    for key in mp_cfg:
        if key not in _MP_KEYS:
            raise ConfigError(f'Unknown key env_cfg.mp_cfg.{key}.{did_you_mean(key, _MP_KEYS)} '
                              f'Keys: {", ".join(_MP_KEYS)}.')
    method = mp_cfg.get('mp_start_method')
    if method is not None:
        import multiprocessing
        methods = multiprocessing.get_all_start_methods()
        if method not in methods:
            raise ConfigError(f'env_cfg.mp_cfg.mp_start_method={method!r} is not a start method here; '
                              f'use one of {", ".join(map(repr, methods))}.')
    threads = mp_cfg.get('opencv_num_threads')
    if threads is not None:
        try:
            import cv2
        except ImportError:
            cv2 = None
        if cv2 is not None:
            cv2.setNumThreads(int(threads))
    return method

"""Training checkpoints: one file with everything needed to continue exactly.

Contents: ``state_dict`` (model), ``optimizer`` (wrapper state), ``param_schedulers``,
``meta`` (epoch, iter, fovea version, config text, seed, hook state such as the best
score), ``rng`` (torch CPU/CUDA, numpy and Python ``random`` states) and whatever
hooks add (``ema_state_dict``...). Only tensors and plain Python values are stored,
so ``torch.load(weights_only=True)`` reads it: loading never unpickles code.
Files are written atomically (temporary file, fsync, rename).
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fovea.utils.io import atomic_write_bytes

__all__ = ['save_checkpoint', 'get_rng_state', 'set_rng_state', 'find_latest_checkpoint', 'checkpoint_candidates',
           'LAST_CHECKPOINT']

LAST_CHECKPOINT = 'last_checkpoint'


def get_rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        'torch': torch.get_rng_state(),
        'numpy': {'key': torch.from_numpy(np_state[1].astype(np.int64)), 'pos': int(np_state[2]),
                  'has_gauss': int(np_state[3]), 'cached_gaussian': float(np_state[4])},
        'python': _py_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _py_state_to_plain(state: tuple) -> dict:
    version, internal, gauss = state
    return {'version': version, 'internal': torch.tensor(internal, dtype=torch.int64), 'gauss': gauss}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state['torch'])
    n = state['numpy']
    np.random.set_state(('MT19937', n['key'].numpy().astype(np.uint32), n['pos'], n['has_gauss'],
                         n['cached_gaussian']))
    p = state['python']
    random.setstate((p['version'], tuple(int(x) for x in p['internal'].tolist()), p['gauss']))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Serialise to memory first, then write atomically: a crash never leaves a partial file."""
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    atomic_write_bytes(path, buf.getvalue())


def find_latest_checkpoint(work_dir: str | Path) -> Path | None:
    """The checkpoint named in ``<work_dir>/last_checkpoint`` if it still exists, else the newest
    ``*.pth`` under ``work_dir`` (by modification time)."""
    candidates = checkpoint_candidates(work_dir)
    return candidates[0] if candidates else None


def checkpoint_candidates(work_dir: str | Path) -> list[Path]:
    """Training checkpoints under ``work_dir`` to resume from, best first: the one
    ``last_checkpoint`` names, then the others (not ``best_*``) newest first. ``resume='auto'``
    takes the first that reads, so a damaged newest file does not lose the run."""
    work_dir = Path(work_dir)
    out: list[Path] = []
    pointer = work_dir / LAST_CHECKPOINT
    if pointer.is_file():
        try:
            target = Path(pointer.read_text(encoding='utf-8').strip())
        except (OSError, UnicodeDecodeError):
            target = None
        if target is not None and str(target) not in ('', '.'):
            target = target if target.is_absolute() else work_dir / target
            if target.is_file():
                out.append(target)
    others = []
    for p in work_dir.rglob('*.pth'):
        if p.name.startswith('best_') or p in out:
            continue
        try:
            others.append((p.stat().st_mtime, p))
        except OSError:  # deleted meanwhile
            continue
    return out + [p for _, p in sorted(others, key=lambda t: t[0], reverse=True)]


def read_meta(path: str | Path) -> dict | None:
    """The ``meta`` of a fovea checkpoint without reading its tensors (memory-mapped), or None when the
    file is not one (the caller's regular loading then reports why)."""
    try:
        meta = torch.load(path, map_location='cpu', weights_only=True, mmap=True).get('meta')
    except Exception:  # damaged, foreign or not a zip checkpoint
        return None
    return meta if isinstance(meta, dict) else None

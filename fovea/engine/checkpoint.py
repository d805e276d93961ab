"""Training checkpoints: one file with everything needed to continue exactly.

Contents: ``state_dict`` (model), ``optimizer`` (wrapper state), ``param_schedulers``,
``meta`` (epoch, iter, fovea version, config text, seed, hook state such as the best
score), ``rng`` (torch CPU/CUDA, numpy and Python ``random`` states) and whatever
hooks add (``ema_state_dict``...). Only tensors and plain Python values are stored,
so ``torch.load(weights_only=True)`` reads it: loading never unpickles code.
Files are written atomically (temporary file, fsync, rename).

:func:`from_mmengine` turns an MMPretrain (mmengine) training checkpoint into this layout so that
``resume`` continues such a run, carrying over what matches the current config.
"""
from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fovea.utils.io import atomic_write_bytes

__all__ = ['save_checkpoint', 'get_rng_state', 'set_rng_state', 'find_latest_checkpoint', 'checkpoint_candidates',
           'from_mmengine', 'LAST_CHECKPOINT']

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


def from_mmengine(ckpt: dict[str, Any], optim_wrapper: Any, param_schedulers: list) -> tuple[dict[str, Any], list[str]]:
    """An MMPretrain/mmengine training checkpoint (``state_dict``, ``meta``, ``optimizer``,
    ``param_schedulers``, ``message_hub``, ``ema_state_dict``) in fovea's layout, for resuming.

    The optimizer state is kept when its parameter groups have the sizes, the kind (momentum /
    betas) and the state shapes of ``optim_wrapper``'s; a scheduler's position when the scheduler
    in the same place has the same window and settings. Returns (checkpoint, notes): one note for
    each thing that could not be carried over.
    """
    from fovea.utils.weights import checkpoint_info, extract_state_dict
    info = checkpoint_info(ckpt)
    notes = ['random number generator states (MMPretrain does not save them): augmentation randomness '
             'after resuming differs from an uninterrupted run',
             'the logged history in message_hub']
    meta = {'epoch': info.epoch or 0, 'iter': info.iter or 0,
            'dataset_meta': {'classes': list(info.classes)} if info.classes else {}}
    runtime = (ckpt.get('message_hub') or {}).get('runtime_info') if isinstance(ckpt.get('message_hub'), dict) else None
    best = runtime.get('best_score') if isinstance(runtime, dict) else None
    if isinstance(best, (int, float)):  # the score only: the best file MMPretrain wrote is not fovea's to delete
        meta['best'] = {'score': float(best), 'path': None, 'kept': []}
    out: dict[str, Any] = {'meta': meta, 'state_dict': extract_state_dict(ckpt)}
    ema = ckpt.get('ema_state_dict')
    if isinstance(ema, dict):
        out['ema_state_dict'] = {k: v for k, v in ema.items() if isinstance(v, torch.Tensor)}
    saved_optim = ckpt.get('optimizer')
    if optim_wrapper is None or not isinstance(saved_optim, dict):
        notes.append('the optimizer state (none in the checkpoint)' if optim_wrapper is not None else '')
    else:
        problem = _optimizer_mismatch(saved_optim, optim_wrapper.optimizer)
        if problem:
            notes.append(f'the optimizer state ({problem}): it starts afresh')
        else:
            state = {'optimizer': {'state': saved_optim['state'], 'param_groups': saved_optim['param_groups']},
                     'inner_count': 0}
            if isinstance(saved_optim.get('loss_scaler'), dict):
                state['loss_scaler'] = saved_optim['loss_scaler']
            out['optimizer'] = state
            run_length = {True: runtime.get('max_epochs'), False: runtime.get('max_iters')} if isinstance(
                runtime, dict) else {}
            out['param_schedulers'], sched_notes = _schedulers_from_mmengine(
                ckpt.get('param_schedulers'), param_schedulers, run_length)
            notes += sched_notes
    return out, [n for n in notes if n]


def _optimizer_mismatch(saved: dict, optimizer: torch.optim.Optimizer) -> str | None:
    groups, current = saved.get('param_groups'), optimizer.param_groups
    if not isinstance(groups, list) or not isinstance(saved.get('state'), dict):
        return 'not a torch optimizer state'
    if len(groups) != len(current):
        return f'{len(groups)} parameter groups in the checkpoint, {len(current)} in this config'
    params = [p for g in current for p in g['params']]
    for i, (g, c) in enumerate(zip(groups, current)):
        if len(g.get('params', ())) != len(c['params']):
            return f'parameter group {i} has {len(g.get("params", ()))} parameters there, {len(c["params"])} here'
        for key in ('momentum', 'betas'):
            if (key in g) != (key in c):
                return f'another optimizer type (parameter group {i} {"has" if key in g else "lacks"} {key!r})'
    index = {pid: n for n, pid in enumerate(p for g in groups for p in g['params'])}
    for pid, st in saved['state'].items():
        n = index.get(pid)
        if n is None or not isinstance(st, dict):
            return f'state for an unknown parameter {pid!r}'
        for name, v in st.items():
            if isinstance(v, torch.Tensor) and v.ndim and tuple(v.shape) != tuple(params[n].shape):
                return f'{name} of parameter {n} is {tuple(v.shape)}, the parameter {tuple(params[n].shape)}'
    return None


#: mmengine scheduler attribute -> fovea's (mmengine keeps the last values fovea recomputes)
_MM_SCHEDULER_KEYS = {'_global_step': 'global_step'}
_MM_SCHEDULER_DROP = ('_last_value', 'param_name', '_get_value_called_within_step', 'verbose')


#: settings that follow from ``end``, which mmengine clips to the run's length when a config leaves it open
_END_KEYS = ('end', 'T_max', 'total_iters')


def _schedulers_from_mmengine(saved: Any, schedulers: list, run_length: dict) -> tuple[list[dict], list[str]]:
    """fovea scheduler states with the positions of the matching mmengine schedulers. ``run_length``:
    by_epoch -> the mmengine run's max_epochs / max_iters."""
    saved = saved if isinstance(saved, list) else []
    notes, states = [], []
    if len(saved) != len(schedulers):
        notes.append(f'the scheduler positions ({len(saved)} param_schedulers in the checkpoint, '
                     f'{len(schedulers)} in this config): the schedules start from their beginning')
        return [s.state_dict() for s in schedulers], notes
    for i, (mm, s) in enumerate(zip(saved, schedulers)):
        mine = s.state_dict()
        theirs = {_MM_SCHEDULER_KEYS.get(k, k): (sorted(v.elements()) if isinstance(v, Counter) else v)
                  for k, v in (mm.items() if isinstance(mm, dict) else ()) if k not in _MM_SCHEDULER_DROP}
        skip = {'global_step', 'last_step', 'base_values'}
        if theirs.get('end') is not None and theirs.get('end') == run_length.get(bool(theirs.get('by_epoch'))):
            skip.update(_END_KEYS)  # 'until the end of training': fovea keeps its own end
        differ = sorted(k for k in theirs.keys() & mine.keys() if k not in skip and theirs[k] != mine[k])
        if 'last_step' not in theirs or differ:
            what = ', '.join(f'{k}={theirs[k]!r} there, {mine[k]!r} here' for k in differ) or 'no position saved'
            notes.append(f'the position of param_scheduler {i} ({type(s).__name__}: {what}): it starts from its '
                         f'beginning')
        else:
            mine.update(last_step=theirs['last_step'], global_step=theirs.get('global_step', mine['global_step']))
        states.append(mine)
    return states, notes

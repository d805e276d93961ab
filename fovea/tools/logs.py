"""Reading training logs (``<run dir>/scalars.json``, one JSON object per line) and plotting them.

Train records carry ``lr``, the losses, ``time``/``data_time`` (seconds per iteration), ``epoch``,
``iter`` and ``step``; evaluation records carry the metrics with ``step`` = epoch (epoch-based
runs) or iteration.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from fovea.utils.errors import DataError, did_you_mean

__all__ = ['load_scalars', 'find_log', 'is_train_record', 'series', 'plot_curves', 'cal_train_time']


def find_log(path: str | os.PathLike) -> Path:
    """``path`` itself, or ``scalars.json`` in a run directory (or the newest run of a work dir)."""
    p = Path(path)
    if p.is_dir():
        if (p / 'scalars.json').is_file():
            return p / 'scalars.json'
        runs = sorted(p.glob('*/scalars.json'))
        if runs:
            return runs[-1]
        raise DataError(f'{str(p)!r} has no scalars.json (nor any run folder with one); give the '
                        f'scalars.json of a run, e.g. work_dirs/<config>/<timestamp>/scalars.json')
    if not p.is_file():
        raise DataError(f'log file {str(p)!r} does not exist; training writes <run dir>/scalars.json')
    return p


def load_scalars(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines log (bad lines are reported with their number)."""
    p = find_log(path)
    out = []
    with open(p, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f'{p}:{n} is not a JSON line ({exc.msg}); is this a fovea scalars.json?') from exc
    if not out:
        raise DataError(f'{p} holds no records')
    return out


def is_train_record(r: dict) -> bool:
    return 'lr' in r or 'loss' in r


def series(records: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, x-axis name) of one key: train keys against iterations, metrics against ``step``."""
    rows = [r for r in records if key in r]
    if not rows:
        keys = sorted({k for r in records for k in r} - {'epoch', 'iter', 'step'})
        raise DataError(f'the log has no key {key!r}.{did_you_mean(key, keys)} Keys in it: {keys}')
    train = is_train_record(rows[0])
    xs = np.array([r['iter'] if train else r.get('step', r.get('epoch', i)) for i, r in enumerate(rows)], float)
    ys = np.array([r[key] for r in rows], dtype=float)
    xname = 'iteration' if train else ('epoch' if all(r.get('step') == r.get('epoch') for r in rows) else 'step')
    return xs, ys, xname


def plot_curves(logs: Sequence[Sequence[dict]], keys: Sequence[str], legend: Sequence[str] | None = None,
                title: str | None = None):
    """A matplotlib figure with one subplot per key and one line per log."""
    from fovea.tools.results import _plt
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, recs in enumerate(logs):
            x, y, xname = series(recs, key)
            label = legend[i] if legend and i < len(legend) else (f'log {i}' if len(logs) > 1 else key)
            ax.plot(x, y, marker='o' if len(x) < 30 else None, markersize=3, label=label)
        ax.set_xlabel(xname)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def cal_train_time(records: Sequence[dict], include_outliers: bool = False) -> dict:
    """Seconds per iteration, per epoch and overall (MMPretrain's ``cal_train_time``).

    The first logged interval of the run includes start-up work; it is left out unless
    ``include_outliers``.
    """
    train = [r for r in records if is_train_record(r) and 'time' in r]
    if not train:
        raise DataError('the log has no training records with a "time" key')
    if not include_outliers and len(train) > 1:
        train = train[1:]
    by_epoch: dict[int, list[float]] = {}
    for r in train:
        by_epoch.setdefault(int(r.get('epoch', 0)), []).append(float(r['time']))
    means = {e: float(np.mean(v)) for e, v in sorted(by_epoch.items())}
    all_t = np.array([float(r['time']) for r in train])
    slowest = max(means, key=means.get)
    fastest = min(means, key=means.get)
    return dict(epochs=means, slowest_epoch=slowest, slowest_s_per_iter=means[slowest], fastest_epoch=fastest,
                fastest_s_per_iter=means[fastest], std_over_epochs=float(np.std(list(means.values()))),
                average_s_per_iter=float(all_t.mean()))

"""Plot parameter schedules (learning rate, momentum, weight decay) over a whole training run."""
from __future__ import annotations

import math
from pathlib import Path

from fovea.config import Config
from fovea.engine.schedulers import simulate_param_schedule
from fovea.utils.errors import ConfigError, require

__all__ = ['schedule_from_config', 'plot_schedule']


def schedule_from_config(cfg: Config, dataset_size: int | None = None, ngpus: int = 1,
                         batch_size: int | None = None) -> tuple[dict[str, list[float]], int]:
    """Simulate ``cfg``'s ``param_scheduler`` for its ``optim_wrapper`` and ``train_cfg``.

    Iterations per epoch come from ``dataset_size / (batch_size x ngpus)`` (``drop_last`` rounding
    down, else up); without ``dataset_size`` the training dataset is built to count it.
    Returns (values per iteration, iterations per epoch).
    """
    for key in ('optim_wrapper', 'train_cfg'):
        if key not in cfg:
            raise ConfigError(f'The config has no {key}; vis-scheduler needs optim_wrapper, param_scheduler and '
                              f'train_cfg.')
    loader = cfg.get('train_dataloader') or {}
    bs = batch_size or loader.get('batch_size')
    if bs is None:
        raise ConfigError('No train_dataloader.batch_size in the config; pass --batch-size.')
    if dataset_size is None:
        from fovea.registry import DATASETS, build
        try:
            dataset_size = len(build(dict(loader['dataset']), DATASETS, key='train_dataloader.dataset'))
        except Exception as exc:  # the dataset may not be on this machine
            raise ConfigError(f'Cannot build the training dataset to count its images ({exc}); pass '
                              f'--dataset-size N (e.g. 1281167 for ImageNet-1k).') from exc
    per_step = bs * ngpus
    epoch_length = dataset_size // per_step if loader.get('drop_last') else math.ceil(dataset_size / per_step)
    epoch_length = max(epoch_length, 1)
    train_cfg = dict(cfg['train_cfg'])
    by_iter = train_cfg.get('by_epoch') is False or 'max_iters' in train_cfg
    values = simulate_param_schedule(cfg['optim_wrapper'], cfg.get('param_scheduler'), epoch_length,
                                     max_epochs=None if by_iter else train_cfg['max_epochs'],
                                     max_iters=train_cfg['max_iters'] if by_iter else None)
    return values, epoch_length


def plot_schedule(values: dict[str, list[float]], epoch_length: int, out: str | Path, title: str = '',
                  by_epoch: bool = True) -> Path:
    """Write a PNG with one panel per scheduled quantity (x axis: iterations; epochs on top)."""
    require('matplotlib', 'tools', 'vis-scheduler')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = [k for k in ('lr', 'momentum', 'weight_decay') if k in values and len(set(values[k])) > 0]
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 2.6 * len(keys)), sharex=True, squeeze=False)
    n = len(values[keys[0]])
    for ax, k in zip(axes[:, 0], keys):
        ax.plot(range(n), values[k], lw=1.5)
        ax.set_ylabel(k)
        ax.grid(alpha=0.3)
        ax.margins(x=0)
    axes[-1, 0].set_xlabel('iteration')
    if by_epoch and epoch_length > 1:
        top = axes[0, 0].secondary_xaxis('top', functions=(lambda x: x / epoch_length, lambda e: e * epoch_length))
        top.set_xlabel('epoch')
    fig.suptitle(title or 'parameter schedule')
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

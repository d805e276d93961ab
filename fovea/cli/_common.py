"""Argument helpers shared by commands."""
from __future__ import annotations

import argparse


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. optim_wrapper.optimizer.lr=0.01 '
                             'train_dataloader.batch_size=64 (values: numbers, True/False/None, [lists], strings)')


def print_metrics_table(metrics: dict, title: str = 'Metrics') -> None:
    """A two-column table of scalar metrics."""
    rows = [(k, f'{v:.2f}' if isinstance(v, float) else str(v)) for k, v in metrics.items()
            if not isinstance(v, (list, dict))]
    if not rows:
        return
    w1 = max(len(title), max(len(k) for k, _ in rows))
    w2 = max(len(v) for _, v in rows)
    line = f'+-{"-" * w1}-+-{"-" * w2}-+'
    print(line)
    print(f'| {title:<{w1}} | {"":>{w2}} |')
    print(line)
    for k, v in rows:
        print(f'| {k:<{w1}} | {v:>{w2}} |')
    print(line)

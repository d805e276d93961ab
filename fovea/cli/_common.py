"""Argument helpers shared by commands."""
from __future__ import annotations

import argparse


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options`` and the trust switches of commands that read a config file (see :func:`load_config`)."""
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. optim_wrapper.optimizer.lr=0.01 '
                             'train_dataloader.batch_size=64 (values: numbers, True/False/None, [lists], strings)')
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument('--trust', dest='untrusted', action='store_false', default=None,
                       help='trust a JSON/YAML config: allow `type` import paths and Python _base_ files '
                            '(by default JSON/YAML configs may only name registered types)')
    trust.add_argument('--untrusted', dest='untrusted', action='store_true', default=None,
                       help='refuse to run any code from the config: Python configs (other than fovea\'s '
                            'shipped ones) are refused (JSON/YAML configs are untrusted already)')


def load_config(args: argparse.Namespace):
    """The config named by ``args.config`` with ``--cfg-options`` applied. JSON/YAML files are untrusted
    unless ``--trust`` is given; Python files are code and run, unless ``--untrusted`` is given."""
    from fovea.config import Config
    return Config.fromfile(args.config, args.cfg_options, untrusted=getattr(args, 'untrusted', None))


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

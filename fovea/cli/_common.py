"""Argument helpers shared by commands."""
from __future__ import annotations

import argparse


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. optim_wrapper.optimizer.lr=0.01 '
                             'train_dataloader.batch_size=64 (values: numbers, True/False/None, [lists], strings)')

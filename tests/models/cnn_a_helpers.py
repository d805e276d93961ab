"""Helpers shared by the CNN zoo A tests."""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import torch


@contextlib.contextmanager
def plain_cpu_kernels() -> Iterator[None]:
    """Run without oneDNN: its per-shape kernel setup costs more than the single tiny forward/backward
    pass a test makes (results are the same up to float rounding)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield

"""BaseMetric: accumulate per-batch results, gather them across ranks, compute once.

A metric implements ``process(data_batch, data_samples)`` (append small CPU
records to ``self.results``) and ``compute_metrics(results) -> dict``. The
loops call ``evaluate(size)``, which gathers every rank's results, trims the
padding a rank-aware sampler adds, computes on rank 0 and broadcasts.
Metric names are prefixed (``accuracy/top1``) as in MMPretrain.

``data_samples`` may be :class:`~fovea.structures.DataSample` objects or their dict form (what
MMEngine's Evaluator passes, ``DataSample.to_dict()``; values may then be lists):
:func:`sample_label` / :func:`sample_score` read either. The static ``calculate`` methods take
tensors, NumPy arrays or (nested) sequences, as MMPretrain's do (:func:`to_tensor`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from fovea.registry import METRICS
from fovea.structures import format_label, format_score
from fovea.utils.dist import all_gather_object, broadcast_object, get_dist_info

__all__ = ['BaseMetric', 'Evaluator', 'to_tensor', 'sample_label', 'sample_score']


def to_tensor(value: Any) -> torch.Tensor:
    """A tensor from a tensor, a NumPy array or a (nested) sequence of numbers."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return torch.tensor(value)
    raise TypeError(f'{type(value)} is not an available argument: give a tensor, a NumPy array or a '
                    f'sequence of numbers.')


def sample_label(sample: Any, key: str = 'gt_label') -> torch.Tensor | None:
    """``sample[key]`` as a 1-D int64 CPU tensor (None when absent), from a DataSample or a dict."""
    value = sample.get(key)
    return None if value is None else format_label(value).cpu()


def sample_score(sample: Any, key: str = 'pred_score') -> torch.Tensor | None:
    """``sample[key]`` as a detached float CPU tensor (None when absent), from a DataSample or a dict."""
    value = sample.get(key)
    return None if value is None else format_score(value).detach().float().cpu()


class BaseMetric:
    default_prefix: str | None = None

    def __init__(self, collect_device: str = 'cpu', prefix: str | None = None):
        self.prefix = prefix or self.default_prefix
        self.results: list[Any] = []
        self.dataset_meta: dict | None = None

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        raise NotImplementedError

    def compute_metrics(self, results: list) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, size: int) -> dict[str, Any]:
        rank, world = get_dist_info()
        if world > 1:
            parts = all_gather_object(self.results)
            # DefaultSampler interleaves ranks: rank r holds positions r, r + world, ...
            merged = [None] * sum(len(p) for p in parts)
            for r, part in enumerate(parts):
                merged[r::world] = part
            results = merged[:size]
        else:
            results = self.results[:size] if size else self.results
        metrics = self.compute_metrics(results) if rank == 0 else None
        metrics = broadcast_object(metrics)
        self.results.clear()
        if self.prefix:
            metrics = {f'{self.prefix}/{k}': v for k, v in metrics.items()}
        return metrics


class Evaluator:
    """A list of metrics fed together."""

    def __init__(self, metrics: dict | BaseMetric | Sequence[dict | BaseMetric]):
        if isinstance(metrics, (dict, BaseMetric)):
            metrics = [metrics]
        self.metrics = [METRICS.build(m, key=str(i)) for i, m in enumerate(metrics)]

    @property
    def dataset_meta(self) -> dict | None:
        return self.metrics[0].dataset_meta if self.metrics else None

    @dataset_meta.setter
    def dataset_meta(self, meta: dict | None) -> None:
        for m in self.metrics:
            m.dataset_meta = meta

    def process(self, data_samples: Sequence, data_batch: Any = None) -> None:
        for m in self.metrics:
            m.process(data_batch, data_samples)

    def evaluate(self, size: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.metrics:
            out.update(m.evaluate(size))
        return out

"""Multi-label metrics: precision / recall / F1 at a threshold or top-k, and average precision (mAP)."""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch

from fovea.evaluation.base import BaseMetric, sample_label, sample_score, to_tensor
from fovea.evaluation.single_label import average_suffix, precision_recall_f1_support
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError

__all__ = ['MultiLabelMetric', 'AveragePrecision', 'average_precision']


def _onehot(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    t = torch.zeros(num_classes, dtype=torch.long)
    t[label.long()] = 1
    return t


def _targets(s, num_classes: int) -> torch.Tensor:
    score = sample_score(s, 'gt_score')
    return score if score is not None else _onehot(sample_label(s), num_classes)


class _MultiLabelBase(BaseMetric):
    default_prefix = 'multi-label'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            score = sample_score(s)
            self.results.append({'pred_score': score, 'gt_score': _targets(s, score.numel())})

    @staticmethod
    def _stack(results: list) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.stack([r['pred_score'] for r in results]),
                torch.stack([r['gt_score'] for r in results]).long())


def _as_matrix(value, indices: bool, num_classes: int | None, name: str) -> torch.Tensor:
    """(N, C) from a 2-D tensor/array, or from a sequence of per-sample one-hot rows or (with
    ``indices``) per-sample lists of class indices."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = to_tensor(value)
        if value.ndim != 2:
            raise ConfigError(f'MultiLabelMetric {name} must have shape (N, num_classes), got {tuple(value.shape)}')
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        if indices:
            if num_classes is None:
                raise ConfigError(f'MultiLabelMetric needs num_classes for index-form {name} '
                                  f'({name}_indices=True)')
            return torch.stack([_onehot(to_tensor(v).flatten(), num_classes) for v in value])
        return torch.stack([to_tensor(v) for v in value])
    raise TypeError(f'{type(value)} is not an available argument: MultiLabelMetric {name} must be a tensor, '
                    f'a NumPy array or a sequence.')


@METRICS.register_module()
class MultiLabelMetric(_MultiLabelBase):
    """Precision, recall and F1 (percent) of multi-label predictions.

    A class counts as predicted when its score is >= ``thr``, or when it is among the ``topk`` highest
    (with neither given, ``thr=0.5``). Targets of -1 (difficult) are ignored.

    Args:
        thr / topk: the decision rule. Keys get a suffix ``_thr-0.30`` (for thr != 0.5) or ``_top3``.
            Given both, ``thr`` is used (with a warning), as in MMPretrain.
        items: of 'precision', 'recall', 'f1-score', 'support'.
        average: 'macro', 'micro' (keys ``precision_micro``) or None (per-class lists, keys
            ``precision_classwise``).
    """

    def __init__(self, thr: float | None = None, topk: int | None = None,
                 items: Sequence[str] = ('precision', 'recall', 'f1-score'), average: str | None = 'macro',
                 collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if thr is not None and topk is not None:
            warnings.warn(f'MultiLabelMetric got both thr={thr} and topk={topk}; using the threshold, '
                          f'as MMPretrain does.')
            topk = None
        if thr is None and topk is None:
            thr = 0.5
        allowed = ('precision', 'recall', 'f1-score', 'support')
        for item in items:
            if item not in allowed:
                raise ConfigError(f'MultiLabelMetric item {item!r} is not one of {allowed}')
        self.thr, self.topk, self.items, self.average = thr, topk, tuple(items), average

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred, target = self._stack(results)
        res = self.calculate(pred, target, average=self.average, thr=self.thr, topk=self.topk)
        values = dict(zip(('precision', 'recall', 'f1-score', 'support'), res))
        if self.thr is not None:
            suffix = '' if self.thr == 0.5 else f'_thr-{self.thr:.2f}'
        else:
            suffix = f'_top{self.topk}'
        suffix += average_suffix(self.average)
        return {k + suffix: (values[k].item() if values[k].ndim == 0 else values[k].tolist()) for k in self.items}

    @staticmethod
    def calculate(pred, target, pred_indices: bool = False, target_indices: bool = False,
                  average: str | None = 'macro', thr: float | None = None, topk: int | None = None,
                  num_classes: int | None = None):
        """(precision, recall, f1, support) from (N, C) scores and (N, C) 0/1 (or -1) targets.

        Either may also be a sequence of per-sample one-hot rows, or, with ``pred_indices`` /
        ``target_indices`` (and ``num_classes``), of per-sample class-index lists. ``thr`` wins
        over ``topk``; neither means ``thr=0.5``.
        """
        pred = _as_matrix(pred, pred_indices, num_classes, 'pred').float()
        target = _as_matrix(target, target_indices, num_classes, 'target').long()
        if pred.shape != target.shape:
            raise ConfigError(f'scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape')
        if num_classes is not None and pred.size(1) != num_classes:
            raise ConfigError(f'MultiLabelMetric: pred has {pred.size(1)} classes but num_classes={num_classes}')
        if thr is None and topk is None:
            thr = 0.5
        if thr is not None:
            pos = (pred >= thr).long()
        else:
            pos = torch.zeros_like(pred, dtype=torch.long).scatter_(1, pred.topk(topk, dim=1).indices, 1)
        return precision_recall_f1_support(pos, target, average)


def average_precision(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Average precision of one class: the mean of the precision at each positive, ranking by score.

    ``target`` holds 1 (positive), 0 (negative) or -1 (ignored).
    """
    valid = target > -1
    pred, target = pred[valid], target[valid]
    order = torch.argsort(pred, dim=0, descending=True)
    positive = target[order] == 1
    tps = positive.cumsum(0)
    total = tps[-1].item() if len(tps) else 0
    ranks = torch.arange(1, len(positive) + 1, dtype=torch.float)
    precision = torch.where(positive, tps / ranks, torch.zeros(()))
    return precision.sum() / max(total, torch.finfo(torch.float32).eps)


@METRICS.register_module()
class AveragePrecision(_MultiLabelBase):
    """Average precision per class in percent: ``mAP`` (average='macro') or the per-class list
    ``AP_classwise`` (average=None), as MMPretrain names them."""

    def __init__(self, average: str | None = 'macro', collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if average not in ('macro', None):
            raise ConfigError(f"Invalid `average` argument: AveragePrecision average must be 'macro' or None, "
                              f"got {average!r}")
        self.average = average

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred, target = self._stack(results)
        ap = self.calculate(pred, target, self.average)
        return {'mAP': ap.item()} if self.average == 'macro' else {'AP_classwise': ap.tolist()}

    @staticmethod
    def calculate(pred, target, average: str | None = 'macro') -> torch.Tensor:
        """AP (percent) per class of (N, C) scores and targets (tensors, arrays or sequences): the
        mean for 'macro', the (C,) vector for None."""
        if average not in ('macro', None):
            raise ConfigError(f"Invalid `average` argument: AveragePrecision average must be 'macro' or None, "
                              f"got {average!r}")
        pred, target = to_tensor(pred).float(), to_tensor(target).long()
        if pred.ndim != 2 or pred.shape != target.shape:
            raise ConfigError(f'scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape')
        ap = torch.stack([average_precision(pred[:, k], target[:, k]) for k in range(pred.size(1))]) * 100
        return ap.mean() if average == 'macro' else ap

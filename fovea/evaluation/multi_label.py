"""Multi-label metrics: precision / recall / F1 at a threshold or top-k, and average precision (mAP)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from fovea.evaluation.base import BaseMetric
from fovea.evaluation.single_label import precision_recall_f1_support
from fovea.registry import METRICS

__all__ = ['MultiLabelMetric', 'AveragePrecision', 'average_precision']


def _targets(s, num_classes: int) -> torch.Tensor:
    if 'gt_score' in s:
        return s.gt_score.detach().cpu()
    t = torch.zeros(num_classes, dtype=torch.long)
    t[s.gt_label.cpu().long()] = 1
    return t


class _MultiLabelBase(BaseMetric):
    default_prefix = 'multi-label'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            score = s.pred_score.detach().float().cpu()
            self.results.append({'pred_score': score, 'gt_score': _targets(s, score.numel())})

    @staticmethod
    def _stack(results: list) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.stack([r['pred_score'] for r in results]),
                torch.stack([r['gt_score'] for r in results]).long())


@METRICS.register_module()
class MultiLabelMetric(_MultiLabelBase):
    """Precision, recall and F1 (percent) of multi-label predictions.

    A class counts as predicted when its score is >= ``thr``, or when it is among the ``topk`` highest
    (with neither given, ``thr=0.5``). Targets of -1 (difficult) are ignored.

    Args:
        thr / topk: the decision rule. Keys get a suffix ``_thr-0.30`` (for thr != 0.5) or ``_top3``.
        items: of 'precision', 'recall', 'f1-score', 'support'.
        average: 'macro', 'micro' or None (per-class lists).
    """

    def __init__(self, thr: float | None = None, topk: int | None = None,
                 items: Sequence[str] = ('precision', 'recall', 'f1-score'), average: str | None = 'macro',
                 collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if thr is not None and topk is not None:
            raise ValueError('MultiLabelMetric takes thr or topk, not both')
        if thr is None and topk is None:
            thr = 0.5
        allowed = ('precision', 'recall', 'f1-score', 'support')
        for item in items:
            if item not in allowed:
                raise ValueError(f'MultiLabelMetric item {item!r} is not one of {allowed}')
        self.thr, self.topk, self.items, self.average = thr, topk, tuple(items), average

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred, target = self._stack(results)
        res = self.calculate(pred, target, average=self.average, thr=self.thr, topk=self.topk)
        values = dict(zip(('precision', 'recall', 'f1-score', 'support'), res))
        if self.thr is not None:
            suffix = '' if self.thr == 0.5 else f'_thr-{self.thr:.2f}'
        else:
            suffix = f'_top{self.topk}'
        return {k + suffix: (values[k].item() if values[k].ndim == 0 else values[k].tolist()) for k in self.items}

    @staticmethod
    def calculate(pred: torch.Tensor, target: torch.Tensor, average: str | None = 'macro',
                  thr: float | None = None, topk: int | None = None):
        """(precision, recall, f1, support) from (N, C) scores and (N, C) 0/1 (or -1) targets."""
        pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target).long()
        if pred.shape != target.shape:
            raise ValueError(f'scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape')
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
    """Average precision per class, reported as ``mAP`` (average='macro') or per-class ``AP`` (None), in percent."""

    def __init__(self, average: str | None = 'macro', collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if average not in ('macro', None):
            raise ValueError(f"AveragePrecision average must be 'macro' or None, got {average!r}")
        self.average = average

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred, target = self._stack(results)
        ap = self.calculate(pred, target, self.average)
        return {'mAP': ap.item()} if self.average == 'macro' else {'AP': ap.tolist()}

    @staticmethod
    def calculate(pred: torch.Tensor, target: torch.Tensor, average: str | None = 'macro') -> torch.Tensor:
        pred, target = torch.as_tensor(pred).float(), torch.as_tensor(target).long()
        if pred.shape != target.shape:
            raise ValueError(f'scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape')
        ap = torch.stack([average_precision(pred[:, k], target[:, k]) for k in range(pred.size(1))]) * 100
        return ap.mean() if average == 'macro' else ap

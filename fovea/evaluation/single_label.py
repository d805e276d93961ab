"""Single-label metrics beyond accuracy: precision / recall / F1 and the confusion matrix."""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from fovea.evaluation.base import BaseMetric
from fovea.registry import METRICS

__all__ = ['SingleLabelMetric', 'ConfusionMatrix', 'precision_recall_f1_support']

_AVERAGES = ('micro', 'macro', None)


def precision_recall_f1_support(pred_positive: torch.Tensor, gt_positive: torch.Tensor, average: str | None = 'macro'
                                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall, F1 (percent) and support from (N, C) 0/1 prediction and target matrices.

    Targets of -1 (e.g. "difficult" labels) are ignored. ``average``: 'macro' (mean over classes),
    'micro' (pooled counts) or None (per class).
    """
    if average not in _AVERAGES:
        raise ValueError(f"average must be 'micro', 'macro' or None, got {average!r}")
    pred_positive, gt_positive = pred_positive.clone().long(), gt_positive.clone().long()
    ignored = gt_positive == -1
    pred_positive[ignored] = 0
    gt_positive[ignored] = 0
    correct = pred_positive & gt_positive
    dims = None if average == 'micro' else 0
    tp = correct.sum() if dims is None else correct.sum(0)
    pred_sum = pred_positive.sum() if dims is None else pred_positive.sum(0)
    gt_sum = gt_positive.sum() if dims is None else gt_positive.sum(0)
    precision = tp / pred_sum.clamp(min=1).float() * 100
    recall = tp / gt_sum.clamp(min=1).float() * 100
    f1 = 2 * precision * recall / (precision + recall).clamp(min=torch.finfo(torch.float32).eps)
    if average in ('macro', 'micro'):
        return precision.mean(0), recall.mean(0), f1.mean(0), gt_sum.sum(0)
    return precision, recall, f1, gt_sum


def _plain(v: torch.Tensor) -> Any:
    return v.item() if v.ndim == 0 else v.tolist()


@METRICS.register_module()
class SingleLabelMetric(BaseMetric):
    """Precision, recall and F1-score (and support) of single-label predictions, in percent.

    Args:
        thrs: score thresholds: a top-1 prediction whose score is <= thr counts as "no prediction".
            Several thresholds give keys like ``precision_thr-0.50``; None means no threshold.
        items: which of 'precision', 'recall', 'f1-score', 'support' to report.
        average: 'macro' (mean of per-class values), 'micro' (pooled counts) or None (per-class lists).
        num_classes: needed only when samples carry labels but no scores.
    """
    default_prefix = 'single-label'

    def __init__(self, thrs: float | Sequence[float | None] | None = 0., items: Sequence[str] = (
            'precision', 'recall', 'f1-score'), average: str | None = 'macro', num_classes: int | None = None,
            collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.thrs = (thrs,) if thrs is None or isinstance(thrs, (int, float)) else tuple(thrs)
        allowed = ('precision', 'recall', 'f1-score', 'support')
        for item in items:
            if item not in allowed:
                raise ValueError(f'SingleLabelMetric item {item!r} is not one of {allowed}')
        if average not in _AVERAGES:
            raise ValueError(f"SingleLabelMetric average must be 'micro', 'macro' or None, got {average!r}")
        self.items = tuple(items)
        self.average = average
        self.num_classes = num_classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            rec = {'gt_label': s.gt_label.cpu()}
            if 'pred_score' in s:
                rec['pred_score'] = s.pred_score.detach().float().cpu()
            else:
                rec['pred_label'] = s.pred_label.cpu()
            self.results.append(rec)

    def _pack(self, precision, recall, f1, support) -> dict[str, Any]:
        values = {'precision': precision, 'recall': recall, 'f1-score': f1, 'support': support}
        return {k: _plain(values[k]) for k in self.items}

    def compute_metrics(self, results: list) -> dict[str, Any]:
        target = torch.cat([r['gt_label'] for r in results])
        out: dict[str, Any] = {}
        if 'pred_score' in results[0]:
            scores = torch.stack([r['pred_score'] for r in results])
            for thr, res in zip(self.thrs, self.calculate(scores, target, self.thrs, self.average)):
                suffix = '' if len(self.thrs) == 1 else ('_no-thr' if thr is None else f'_thr-{thr:.2f}')
                out.update({k + suffix: v for k, v in self._pack(*res).items()})
        else:
            pred = torch.cat([r['pred_label'] for r in results])
            out.update(self._pack(*self.calculate(pred, target, average=self.average, num_classes=self.num_classes)))
        return out

    @staticmethod
    def calculate(pred: torch.Tensor, target: torch.Tensor, thrs: Sequence[float | None] = (0.,),
                  average: str | None = 'macro', num_classes: int | None = None):
        """From (N, C) scores: a list with one (precision, recall, f1, support) per threshold.
        From (N,) predicted labels (needs ``num_classes``): one such tuple."""
        target = torch.as_tensor(target).long().flatten()
        pred = torch.as_tensor(pred)
        if pred.is_floating_point() and pred.ndim == 2:
            num_classes = pred.size(1)
            top_score, top_label = pred.topk(1, dim=1)
            top_score, top_label = top_score.flatten(), top_label.flatten()
            gt_positive = F.one_hot(target, num_classes)
            results = []
            for thr in thrs:
                pred_positive = F.one_hot(top_label, num_classes)
                if thr is not None:
                    pred_positive[top_score <= thr] = 0
                results.append(precision_recall_f1_support(pred_positive, gt_positive, average))
            return results
        if num_classes is None:
            raise ValueError('SingleLabelMetric needs num_classes when the samples carry predicted labels '
                             'without scores')
        return precision_recall_f1_support(F.one_hot(pred.long().flatten(), num_classes),
                                           F.one_hot(target, num_classes), average)


@METRICS.register_module()
class ConfusionMatrix(BaseMetric):
    """The (num_classes, num_classes) confusion matrix: rows are ground truth, columns predictions.

    Reported under ``confusion_matrix/result`` as a tensor.

    Args:
        num_classes: needed only when samples carry labels but no scores.
    """
    default_prefix = 'confusion_matrix'

    def __init__(self, num_classes: int | None = None, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.num_classes = num_classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            if 'pred_score' in s:
                pred = s.pred_score.argmax().view(1)
                self.num_classes = s.pred_score.numel()
            else:
                pred = s.pred_label.view(-1)[:1]
            self.results.append({'pred_label': pred.cpu(), 'gt_label': s.gt_label.view(-1)[:1].cpu()})

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred = torch.cat([r['pred_label'] for r in results])
        target = torch.cat([r['gt_label'] for r in results])
        return {'result': self.calculate(pred, target, self.num_classes)}

    @staticmethod
    def calculate(pred: torch.Tensor, target: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
        """Confusion matrix from (N,) predicted labels, or (N, C) scores, and (N,) targets."""
        pred, target = torch.as_tensor(pred), torch.as_tensor(target).long().flatten()
        if pred.ndim == 2:
            num_classes = pred.size(1)
            pred = pred.argmax(1)
        if num_classes is None:
            raise ValueError('ConfusionMatrix needs num_classes when given predicted labels without scores')
        pred = pred.long().flatten()
        if len(pred) != len(target):
            raise ValueError(f'{len(pred)} predictions but {len(target)} targets')
        return torch.bincount(num_classes * target + pred, minlength=num_classes ** 2).reshape(
            num_classes, num_classes)

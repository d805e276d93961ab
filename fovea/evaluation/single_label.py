"""Single-label metrics beyond accuracy: precision / recall / F1 and the confusion matrix."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fovea.evaluation.base import BaseMetric, sample_label, sample_score, to_tensor
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError, require

__all__ = ['SingleLabelMetric', 'ConfusionMatrix', 'precision_recall_f1_support', 'plot_confusion_matrix',
           'average_suffix']

_AVERAGES = ('micro', 'macro', None)


def precision_recall_f1_support(pred_positive: torch.Tensor, gt_positive: torch.Tensor, average: str | None = 'macro'
                                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall, F1 (percent) and support from (N, C) 0/1 prediction and target matrices.

    Targets of -1 (e.g. "difficult" labels) are ignored. ``average``: 'macro' (mean over classes),
    'micro' (pooled counts) or None (per class).
    """
    if average not in _AVERAGES:
        raise ConfigError(f"Invalid `average` argument: average must be 'micro', 'macro' or None, got {average!r}")
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


def average_suffix(average: str | None) -> str:
    """MMPretrain's key suffix for an ``average`` mode: '' (macro), '_micro' or '_classwise' (None)."""
    return {'macro': '', 'micro': '_micro', None: '_classwise'}[average]


@METRICS.register_module()
class SingleLabelMetric(BaseMetric):
    """Precision, recall and F1-score (and support) of single-label predictions, in percent.

    Args:
        thrs: score thresholds: a top-1 prediction whose score is <= thr counts as "no prediction".
            Several thresholds give keys like ``precision_thr-0.50``; None means no threshold.
        items: which of 'precision', 'recall', 'f1-score', 'support' to report.
        average: 'macro' (mean of per-class values), 'micro' (pooled counts, keys ``precision_micro``) or
            None (per-class lists, keys ``precision_classwise``), as in MMPretrain.
        num_classes: needed only when samples carry labels but no scores (or a ``num_classes`` field).
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
                raise ConfigError(f'SingleLabelMetric item {item!r} is not one of {allowed}')
        if average not in _AVERAGES:
            raise ConfigError(f"Invalid `average` argument: SingleLabelMetric average must be 'micro', 'macro' or None, got {average!r}")
        self.items = tuple(items)
        self.average = average
        self.num_classes = num_classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            rec = {'gt_label': sample_label(s)}
            score = sample_score(s)
            if score is not None:
                rec['pred_score'] = score
            else:
                num_classes = self.num_classes or s.get('num_classes')
                if num_classes is None:
                    raise ConfigError('SingleLabelMetric needs num_classes when the samples carry predicted '
                                      'labels without scores: set num_classes=... on the metric.')
                rec['pred_label'] = sample_label(s, 'pred_label')
                rec['num_classes'] = int(num_classes)
            self.results.append(rec)

    def _pack(self, precision, recall, f1, support, suffix: str = '') -> dict[str, Any]:
        values = {'precision': precision, 'recall': recall, 'f1-score': f1, 'support': support}
        return {k + suffix + average_suffix(self.average): _plain(values[k]) for k in self.items}

    def compute_metrics(self, results: list) -> dict[str, Any]:
        target = torch.cat([r['gt_label'] for r in results])
        out: dict[str, Any] = {}
        if 'pred_score' in results[0]:
            scores = torch.stack([r['pred_score'] for r in results])
            for thr, res in zip(self.thrs, self.calculate(scores, target, self.thrs, self.average)):
                suffix = '' if len(self.thrs) == 1 else ('_no-thr' if thr is None else f'_thr-{thr:.2f}')
                out.update(self._pack(*res, suffix=suffix))
        else:
            pred = torch.cat([r['pred_label'] for r in results])
            out.update(self._pack(*self.calculate(pred, target, average=self.average,
                                                  num_classes=results[0]['num_classes'])))
        return out

    @staticmethod
    def calculate(pred: torch.Tensor, target: torch.Tensor, thrs: Sequence[float | None] = (0.,),
                  average: str | None = 'macro', num_classes: int | None = None):
        """From (N, C) scores: a list with one (precision, recall, f1, support) per threshold.
        From (N,) predicted labels (needs ``num_classes``): one such tuple. Tensors, NumPy arrays
        and sequences are accepted."""
        if average not in _AVERAGES:
            raise ConfigError(f"Invalid `average` argument: average must be 'micro', 'macro' or None, got {average!r}")
        pred, target = to_tensor(pred), to_tensor(target).long().flatten()
        if pred.size(0) != target.size(0):
            raise ConfigError(f"The size of pred ({pred.size(0)}) doesn't match the target ({target.size(0)}).")
        if pred.ndim == 1:
            if num_classes is None:
                raise ConfigError('Please specify the `num_classes`: SingleLabelMetric needs it when given '
                                  'predicted labels without scores')
            return precision_recall_f1_support(F.one_hot(pred.long(), num_classes),
                                               F.one_hot(target, num_classes), average)
        num_classes = pred.size(1)
        top_score, top_label = pred.float().topk(1, dim=1)
        top_score, top_label = top_score.flatten(), top_label.flatten()
        gt_positive = F.one_hot(target, num_classes)
        results = []
        for thr in thrs:
            pred_positive = F.one_hot(top_label, num_classes)
            if thr is not None:
                pred_positive[top_score <= thr] = 0
            results.append(precision_recall_f1_support(pred_positive, gt_positive, average))
        return results


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
            score = sample_score(s)
            if score is not None:
                pred = score.argmax().view(1)
                self.num_classes = score.numel()
            else:
                pred = sample_label(s, 'pred_label')[:1]
            self.results.append({'pred_label': pred, 'gt_label': sample_label(s)[:1]})

    def compute_metrics(self, results: list) -> dict[str, Any]:
        pred = torch.cat([r['pred_label'] for r in results])
        target = torch.cat([r['gt_label'] for r in results])
        return {'result': self.calculate(pred, target, self.num_classes)}

    @staticmethod
    def calculate(pred, target, num_classes: int | None = None) -> torch.Tensor:
        """Confusion matrix from (N,) predicted labels, or (N, C) scores, and (N,) targets (tensors,
        NumPy arrays or sequences)."""
        pred, target = to_tensor(pred), to_tensor(target).long().flatten()
        if pred.ndim == 2:
            num_classes = num_classes or pred.size(1)
            pred = pred.argmax(1)
        if num_classes is None:
            raise ConfigError('Please specify the `num_classes`: ConfusionMatrix needs it when given predicted labels '
                              'without scores')
        pred = pred.long().flatten()
        if len(pred) != len(target):
            raise ConfigError(f"The size of pred ({len(pred)}) doesn't match the target ({len(target)}).")
        return torch.bincount(num_classes * target + pred, minlength=num_classes ** 2).reshape(
            num_classes, num_classes)

    @staticmethod
    def plot(confusion_matrix: torch.Tensor, include_values: bool = False, cmap: str = 'viridis',
             classes: Sequence[str] | None = None, colorbar: bool = True, show: bool = True):
        """A matplotlib figure of the matrix (MMPretrain's arguments): counts, true labels on the
        rows, predictions on the columns; ``show`` also opens it in a window."""
        fig = plot_confusion_matrix(np.asarray(to_tensor(confusion_matrix)), classes, normalize=False,
                                    title=None, include_values=include_values, cmap=cmap, colorbar=colorbar)
        if show:
            import matplotlib.pyplot as plt
            plt.show()
        return fig


def plot_confusion_matrix(cm: np.ndarray, classes: Sequence[str] | None = None, normalize: bool = True,
                          title: str | None = 'Confusion matrix', max_labels: int = 40,
                          include_values: bool | None = None, cmap: str = 'Blues', colorbar: bool = True):
    """A matplotlib figure of ``cm[true, predicted]``: row-normalised percentages by default (counts
    with ``normalize=False``); cell counts are written when ``include_values`` (default: at most 20
    classes); tick labels for at most ``max_labels`` classes."""
    require('matplotlib', 'tools', 'plots')
    import matplotlib.pyplot as plt
    n = cm.shape[0]
    rows = cm.sum(1, keepdims=True)
    shown = 100.0 * cm / np.maximum(rows, 1) if normalize else cm
    size = min(12, 3 + 0.4 * n)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(shown, cmap=cmap)
    if colorbar:
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='% of the true class' if normalize else 'count')
    names = list(classes) if classes is not None else [str(i) for i in range(n)]
    if n <= max_labels:
        ax.set_xticks(range(n), names, rotation=45 if n > 10 else 0, ha='right' if n > 10 else 'center')
        ax.set_yticks(range(n), names)
    if include_values if include_values is not None else n <= 20:
        thr = shown.max() / 2
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f'{cm[i, j]}', ha='center', va='center', fontsize=8,
                        color='white' if shown[i, j] > thr else 'black')
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    if title:
        ax.set_title(title)
    return fig

"""VOC metrics: the multi-label metrics with PASCAL VOC's "difficult" objects handled.

A class present in an image only through objects marked difficult (``gt_label_difficult``, which
the VOC dataset gives and the test pipeline packs as meta information) is ignored by default
(target -1), as the VOC devkit does; ``difficult_as_positive=True`` counts it as present,
``False`` as absent.
"""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.evaluation.multi_label import AveragePrecision, MultiLabelMetric
from fovea.registry import METRICS

__all__ = ['VOCMultiLabelMetric', 'VOCAveragePrecision']


def _field(sample, name: str, default=None):
    return sample.get(name, default) if hasattr(sample, 'get') else getattr(sample, name, default)


class _VOCDifficult:
    def __init__(self, *args, difficult_as_positive: bool | None = None, **kwargs):
        self.difficult_as_positive = difficult_as_positive
        super().__init__(*args, **kwargs)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            score = torch.as_tensor(_field(s, 'pred_score')).detach().float().cpu()
            gt_score = _field(s, 'gt_score')
            labels = torch.as_tensor(_field(s, 'gt_label', []), dtype=torch.long).flatten().cpu()
            if gt_score is not None:
                target = torch.as_tensor(gt_score).detach().cpu().clone()
            else:
                target = torch.zeros(score.numel(), dtype=torch.long)
                target[labels] = 1
            difficult = sorted(set(int(i) for i in (_field(s, 'gt_label_difficult') or [])) - set(labels.tolist()))
            if difficult and self.difficult_as_positive is None:
                target[difficult] = -1
            elif difficult and self.difficult_as_positive:
                target[difficult] = 1
            self.results.append({'pred_score': score, 'gt_score': target})


@METRICS.register_module()
class VOCMultiLabelMetric(_VOCDifficult, MultiLabelMetric):
    """:class:`MultiLabelMetric` (precision, recall, F1) with difficult-only classes ignored (or
    counted, see ``difficult_as_positive``)."""


@METRICS.register_module()
class VOCAveragePrecision(_VOCDifficult, AveragePrecision):
    """:class:`AveragePrecision` (mAP) with difficult-only classes ignored (or counted, see
    ``difficult_as_positive``)."""

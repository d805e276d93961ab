"""Top-k accuracy."""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.evaluation.base import BaseMetric
from fovea.registry import METRICS

__all__ = ['Accuracy']


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent (``accuracy/top1``, ``accuracy/top5``).

    Args:
        topk: k values.
        thrs: score thresholds (a prediction counts only if its score exceeds the threshold);
            ``None`` means no threshold. Several thresholds give keys ``top1_thr-0.50``.
    """
    default_prefix = 'accuracy'

    def __init__(self, topk: int | Sequence[int] = (1,), thrs: float | Sequence[float | None] | None = 0.,
                 collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.thrs = (thrs,) if thrs is None or isinstance(thrs, float) else tuple(thrs)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            label = s.gt_label if 'gt_label' in s else s.gt_score.argmax().view(1)
            self.results.append({'pred_score': s.pred_score.detach().float().cpu(), 'gt_label': label.cpu()})

    def compute_metrics(self, results: list) -> dict[str, float]:
        scores = torch.stack([r['pred_score'] for r in results])
        labels = torch.cat([r['gt_label'] for r in results])
        return self.calculate(scores, labels, self.topk, self.thrs)

    @staticmethod
    def calculate(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int] = (1,),
                  thrs: Sequence[float | None] = (0.,)) -> dict[str, float]:
        maxk = min(max(topk), scores.shape[1])
        top_scores, top_idx = scores.topk(maxk, dim=1)
        hits = top_idx == labels.view(-1, 1)
        out = {}
        for k in topk:
            for thr in thrs:
                ok = hits[:, :k]
                if thr is not None:
                    ok = ok & (top_scores[:, :k] > thr)
                name = f'top{k}' if len(thrs) == 1 else f'top{k}' + ('_no-thr' if thr is None else f'_thr-{thr:.2f}')
                out[name] = ok.any(1).float().mean().item() * 100
        return out

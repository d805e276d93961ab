"""Top-k accuracy."""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.evaluation.base import BaseMetric, sample_label, sample_score, to_tensor
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError

__all__ = ['Accuracy']


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent (``accuracy/top1``, ``accuracy/top5``).

    Samples with ``pred_score`` give top-k accuracy; samples with only ``pred_label`` give top-1.

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
            label = sample_label(s)
            if label is None:
                label = sample_score(s, 'gt_score').argmax().view(1)
            score = sample_score(s)
            rec = {'pred_score': score} if score is not None else {'pred_label': sample_label(s, 'pred_label')}
            self.results.append({**rec, 'gt_label': label})

    def compute_metrics(self, results: list) -> dict[str, float]:
        labels = torch.cat([r['gt_label'] for r in results])
        if 'pred_score' not in results[0]:
            return {'top1': self.calculate(torch.cat([r['pred_label'] for r in results]), labels).item()}
        scores = torch.stack([r['pred_score'] for r in results])
        try:
            acc = self.calculate(scores, labels, self.topk, self.thrs)
        except ConfigError as exc:
            raise ConfigError(f'{exc} Please check the `val_evaluator` and `test_evaluator` fields in your '
                              f'config file.') from None
        out = {}
        for k, row in zip(self.topk, acc):
            for thr, value in zip(self.thrs, row):
                suffix = '' if len(self.thrs) == 1 else ('_no-thr' if thr is None else f'_thr-{thr:.2f}')
                out[f'top{k}{suffix}'] = value.item()
        return out

    @staticmethod
    def calculate(pred, target, topk: Sequence[int] = (1,), thrs: Sequence[float | None] = (0.,)
                  ) -> torch.Tensor | list[list[torch.Tensor]]:
        """Accuracy in percent, as MMPretrain computes it.

        ``pred``: (N,) labels, giving a (1,) top-1 tensor (``topk``/``thrs`` ignored), or (N, C)
        scores, giving ``acc[i][j]`` for ``topk[i]`` and ``thrs[j]``. ``target``: (N,) labels.
        Tensors, NumPy arrays and sequences are accepted.
        """
        pred, target = to_tensor(pred), to_tensor(target).long().flatten()
        if pred.size(0) != target.size(0):
            raise ConfigError(f"The size of pred ({pred.size(0)}) doesn't match the target ({target.size(0)}).")
        num = pred.size(0)
        if pred.ndim == 1:
            return pred.eq(target).float().sum(0, keepdim=True) * (100. / num)
        pred = pred.float()
        maxk = max(topk)
        if maxk > pred.size(1):
            raise ConfigError(f'Top-{maxk} accuracy is unavailable since the number of categories is '
                              f'{pred.size(1)}.')
        top_scores, top_idx = pred.topk(maxk, dim=1)
        hits = top_idx == target.view(-1, 1)
        results = []
        for k in topk:
            row = []
            for thr in thrs:
                ok = hits[:, :k] if thr is None else hits[:, :k] & (top_scores[:, :k] > thr)
                row.append(ok.reshape(-1).float().sum(0, keepdim=True) * (100. / num))
            results.append(row)
        return results

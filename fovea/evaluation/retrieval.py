"""Retrieval recall: the share of queries with a relevant item among their k best matches
(MMPretrain's ``RetrievalRecall``), and both directions of image-text retrieval for paired embeddings."""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.evaluation.base import BaseMetric, sample_label, sample_score, to_tensor
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError

__all__ = ['RetrievalRecall', 'image_text_recall']


def _topk_tuple(topk: int | Sequence[int]) -> tuple[int, ...]:
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ConfigError(f'RetrievalRecall topk must be positive ints, got {topk!r}.')
    return ks


@METRICS.register_module()
class RetrievalRecall(BaseMetric):
    """Recall@k in percent: a query counts when one of its relevant gallery items ranks in its top k.

    Each sample gives ``pred_score`` (its similarity to every gallery item) and ``gt_label`` (the
    indices of its relevant items).

    Args:
        topk: k values (1, 5, 10).
        prefix: metric name prefix ('retrieval').
    """
    default_prefix = 'retrieval'

    def __init__(self, topk: int | Sequence[int] = (1, 5, 10), collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.topk = _topk_tuple(topk)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            self.results.append({'pred_score': sample_score(s), 'gt_label': sample_label(s)})

    def compute_metrics(self, results: list) -> dict[str, float]:
        pred = torch.stack([r['pred_score'] for r in results])
        return {f'Recall@{k}': v for k, v in zip(self.topk, self.calculate(pred, [r['gt_label'] for r in results],
                                                                           self.topk))}

    @staticmethod
    def calculate(pred, target, topk: int | Sequence[int] = (1, 5, 10)) -> list[float]:
        """``pred`` (N, M) scores; ``target``: per query the relevant indices (a list of index lists, or an
        (N, M) 0/1 matrix). Returns recall@k in percent for each k."""
        ks = _topk_tuple(topk)
        pred = to_tensor(pred).float()
        if isinstance(target, torch.Tensor) and target.shape == pred.shape:
            relevant = target.bool()
        else:
            relevant = torch.zeros_like(pred, dtype=torch.bool)
            for i, t in enumerate(target):
                relevant[i, to_tensor(t).long().flatten()] = True
        order = pred.argsort(dim=1, descending=True)
        hits = relevant.gather(1, order)
        return [float(hits[:, :min(k, pred.shape[1])].any(1).float().mean() * 100) for k in ks]


def image_text_recall(image_feats: torch.Tensor, text_feats: torch.Tensor, text_to_image: Sequence[int] | None = None,
                      topk: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """R@k of image->text and text->image retrieval for L2-normalised embeddings; ``text_to_image[j]`` is
    the image of caption ``j`` (default: caption ``j`` belongs to image ``j``)."""
    sim = image_feats.float() @ text_feats.float().T
    owner = torch.as_tensor(text_to_image if text_to_image is not None else range(text_feats.shape[0]))
    relevant = owner[None, :] == torch.arange(image_feats.shape[0])[:, None]  # (images, texts)
    out = {}
    for name, scores, rel in (('i2t', sim, relevant), ('t2i', sim.T, relevant.T)):
        for k, v in zip(topk, RetrievalRecall.calculate(scores, rel, topk)):
            out[f'{name}_R@{k}'] = v
    return out

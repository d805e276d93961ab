"""Visual grounding: how well a predicted box covers the referred object (MMPretrain's
``VisualGroundingMetric``)."""
from __future__ import annotations

import torch

from fovea.evaluation.base import BaseMetric, to_tensor
from fovea.registry import METRICS
from fovea.utils.errors import DataError

__all__ = ['VisualGroundingMetric', 'aligned_box_iou']


def aligned_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """IoU of ``boxes1[i]`` with ``boxes2[i]`` (both (N, 4), x1 y1 x2 y2); an empty union gives 0."""
    lt = torch.maximum(boxes1[:, :2], boxes2[:, :2])
    rb = torch.minimum(boxes1[:, 2:], boxes2[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)

    def area(b):
        return (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)

    union = area(boxes1) + area(boxes2) - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(union))


def _one_box(sample, key: str) -> torch.Tensor:
    value = sample.get(key)
    if value is None:
        raise DataError(f'VisualGroundingMetric: a sample has no {key!r}; the dataset packs gt_bboxes '
                        f"(PackInputs(algorithm_keys=['text', 'gt_bboxes', ...])) and a grounding model predicts "
                        f'pred_bboxes.')
    box = to_tensor(value).detach().float().cpu().reshape(-1)
    if box.numel() != 4:
        raise DataError(f'VisualGroundingMetric: {key} has {box.numel()} values; one box (x1, y1, x2, y2) per '
                        f'sample is expected.')
    return box


@METRICS.register_module()
class VisualGroundingMetric(BaseMetric):
    """``visual-grounding/acc``: the share (0-1) of predicted boxes with IoU >= 0.5 against the ground truth,
    and ``visual-grounding/miou``, the mean IoU. Boxes are x1 y1 x2 y2 in the same (original image) pixels."""
    default_prefix = 'visual-grounding'

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            self.results.append({'box': _one_box(s, 'pred_bboxes'), 'box_target': _one_box(s, 'gt_bboxes')})

    def compute_metrics(self, results: list) -> dict[str, float]:
        iou = aligned_box_iou(torch.stack([r['box'] for r in results]), torch.stack([r['box_target'] for r in results]))
        return {'miou': float(iou.mean()), 'acc': float((iou >= 0.5).float().mean())}

"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.losses.cross_entropy import reduce_loss
from fovea.models.losses.label_smooth_loss import to_one_hot_like
from fovea.registry import MODELS

__all__ = ['FocalLoss', 'sigmoid_focal_loss']


def _sample_weight(weight: torch.Tensor | None, pred: torch.Tensor) -> torch.Tensor | None:
    if weight is None:
        return None
    if weight.ndim != 1:
        raise ValueError(f'sample weights must be 1-D (one per sample), got shape {tuple(weight.shape)}')
    return weight.float().reshape(-1, 1) if pred.ndim > 1 else weight.float()


def sigmoid_focal_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                       gamma: float = 2.0, alpha: float = 0.25, reduction: str = 'mean',
                       avg_factor: float | None = None) -> torch.Tensor:
    """Per-element ``alpha_t * (1 - p_t) ** gamma * BCE``, reduced over every element (MMPretrain's convention)."""
    if pred.shape != target.shape:
        raise ValueError(f'focal loss: scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape')
    p = pred.sigmoid()
    target = target.type_as(pred)
    pt = (1 - p) * target + p * (1 - target)
    focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none') * focal_weight
    return reduce_loss(loss, reduction, _sample_weight(weight, pred), avg_factor)


@MODELS.register_module()
class FocalLoss(nn.Module):
    """Focal loss on sigmoid scores; hard labels (B,) are turned into one-hot targets.

    Args:
        gamma: focusing parameter (down-weights easy examples).
        alpha: weight of the positive class.
        reduction / loss_weight: as :class:`CrossEntropyLoss`.
    """

    def __init__(self, gamma: float = 2.0, alpha: float = 0.25, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        self.gamma, self.alpha, self.reduction, self.loss_weight = gamma, alpha, reduction, loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        target = to_one_hot_like(target, pred.shape[-1])
        return self.loss_weight * sigmoid_focal_loss(pred.float(), target, weight, self.gamma, self.alpha,
                                                     reduction_override or self.reduction, avg_factor)

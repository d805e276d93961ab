"""Asymmetric loss for multi-label classification (Ridnik et al., "Asymmetric Loss For Multi-Label
Classification", ICCV 2021)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.losses.cross_entropy import reduce_loss
from fovea.models.losses.focal_loss import _sample_weight
from fovea.models.losses.label_smooth_loss import to_one_hot_like
from fovea.registry import MODELS

__all__ = ['AsymmetricLoss', 'asymmetric_loss']


def asymmetric_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                    gamma_pos: float = 1.0, gamma_neg: float = 4.0, clip: float | None = 0.05,
                    reduction: str = 'mean', avg_factor: float | None = None, use_sigmoid: bool = True,
                    eps: float = 1e-8) -> torch.Tensor:
    """Focusing with separate exponents for positives and negatives, plus probability shifting (``clip``)
    of the negatives; reduced over every element."""
    if pred.shape != target.shape:
        raise ValueError(f'asymmetric loss: scores {tuple(pred.shape)} and targets {tuple(target.shape)} differ')
    p = pred.sigmoid() if use_sigmoid else pred.softmax(dim=-1)
    target = target.type_as(pred)
    if clip and clip > 0:
        pt = (1 - p + clip).clamp(max=1) * (1 - target) + p * target
    else:
        pt = (1 - p) * (1 - target) + p * target
    asym_weight = (1 - pt).pow(gamma_pos * target + gamma_neg * (1 - target))
    loss = -torch.log(pt.clamp(min=eps)) * asym_weight
    return reduce_loss(loss, reduction, _sample_weight(weight, pred), avg_factor)


@MODELS.register_module()
class AsymmetricLoss(nn.Module):
    """Asymmetric loss (ASL).

    Args:
        gamma_pos / gamma_neg: focusing exponents of positives and negatives.
        clip: probability margin subtracted from negatives (0 or None disables it).
        reduction / loss_weight: as :class:`CrossEntropyLoss`.
        use_sigmoid: sigmoid scores (multi-label); False uses softmax.
        eps: lower clamp inside the log.
    """

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float | None = 0.05,
                 reduction: str = 'mean', loss_weight: float = 1.0, use_sigmoid: bool = True, eps: float = 1e-8):
        super().__init__()
        self.gamma_pos, self.gamma_neg, self.clip = gamma_pos, gamma_neg, clip
        self.reduction, self.loss_weight, self.use_sigmoid, self.eps = reduction, loss_weight, use_sigmoid, eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        target = to_one_hot_like(target, pred.shape[-1])
        return self.loss_weight * asymmetric_loss(pred.float(), target, weight, self.gamma_pos, self.gamma_neg,
                                                  self.clip, reduction_override or self.reduction, avg_factor,
                                                  self.use_sigmoid, self.eps)

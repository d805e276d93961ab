"""Losses of the non-contrastive self-supervised methods (MMPretrain's names and arguments)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.registry import MODELS

__all__ = ['CosineSimilarityLoss', 'CrossCorrelationLoss']


@MODELS.register_module()
class CosineSimilarityLoss(nn.Module):
    """``shift_factor - scale_factor * cos(pred, target)``, averaged (over ``mask`` if given).

    BYOL uses it with the defaults and doubles it in the algorithm (its ``2 - 2 cos``), SimSiam
    as is (negative cosine).
    """

    def __init__(self, shift_factor: float = 0.0, scale_factor: float = 1.0):
        super().__init__()
        self.shift_factor, self.scale_factor = shift_factor, scale_factor

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        loss = self.shift_factor - self.scale_factor * (F.normalize(pred, dim=-1) * F.normalize(target, dim=-1)).sum(-1)
        return loss.mean() if mask is None else (loss * mask).sum() / mask.sum()


@MODELS.register_module()
class CrossCorrelationLoss(nn.Module):
    """Barlow Twins' redundancy reduction: ``sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2``."""

    def __init__(self, lambd: float = 0.0051):
        super().__init__()
        self.lambd = lambd

    def forward(self, cross_correlation_matrix: torch.Tensor) -> torch.Tensor:
        c = cross_correlation_matrix
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise ValueError(f'CrossCorrelationLoss takes a square matrix, got {tuple(c.shape)}')
        on_diag = (torch.diagonal(c) - 1).pow(2).sum()
        off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
        return on_diag + self.lambd * off_diag

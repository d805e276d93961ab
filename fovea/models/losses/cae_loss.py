"""CAE's loss: cross-entropy of the decoder's code predictions plus ``lambd`` times the MSE between
the regressor's latent predictions and the teacher's latents (MMPretrain's ``CAELoss``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.registry import MODELS

__all__ = ['CAELoss']


@MODELS.register_module()
class CAELoss(nn.Module):
    """``forward(logits, target, latent_pred, latent_target)`` -> ``(loss_main, loss_align)``."""

    def __init__(self, lambd: float):
        super().__init__()
        self.lambd = lambd

    def forward(self, logits: torch.Tensor, target: torch.Tensor, latent_pred: torch.Tensor,
                latent_target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.cross_entropy(logits, target), F.mse_loss(latent_pred, latent_target.detach()) * self.lambd

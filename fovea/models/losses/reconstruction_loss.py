"""PixelReconstructionLoss: the pixel (or feature) regression loss of masked image modelling."""
from __future__ import annotations

import torch
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['PixelReconstructionLoss']


@MODELS.register_module()
class PixelReconstructionLoss(nn.Module):
    """L1 or L2 distance between a reconstruction and its target, averaged over the masked positions.

    ``(B, L, D)`` inputs (MAE's patches, MaskFeat's HOG cells) are first averaged over ``D``, so the
    mask is ``(B, L)``; image-shaped inputs (SimMIM's ``(B, C, H, W)``) take a mask that broadcasts
    (``(B, 1, H, W)``) and divide by ``channel`` as well, so that the result is per pixel and channel.

    Args:
        criterion: 'L1' or 'L2' (squared error).
        channel: divide the masked mean by this (SimMIM: 3). None: 1.
    """

    def __init__(self, criterion: str, channel: int | None = None):
        super().__init__()
        if criterion not in ('L1', 'L2'):
            raise ConfigError(f"PixelReconstructionLoss criterion must be 'L1' or 'L2', got {criterion!r}.")
        self.criterion = criterion
        self.penalty = nn.L1Loss(reduction='none') if criterion == 'L1' else nn.MSELoss(reduction='none')
        self.channel = channel if channel is not None else 1

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        loss = self.penalty(pred, target)
        if loss.ndim == 3:
            loss = loss.mean(dim=-1)
        if mask is None:
            return loss.mean()
        return (loss * mask).sum() / mask.sum() / self.channel

"""SimMIM's pre-training head (MMPretrain's ``SimMIMHead``)."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['SimMIMHead']


@MODELS.register_module()
class SimMIMHead(BaseModule):
    """The patch mask (B, h, w) blown up to pixels (each patch ``patch_size`` x ``patch_size``) and
    the loss (``PixelReconstructionLoss``, L1 with channel=3) of the reconstruction there.

    Args:
        patch_size: the backbone's patch size (pixels per mask entry).
        loss: the loss config.
    """

    def __init__(self, patch_size: int, loss: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.patch_size = patch_size
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.repeat_interleave(self.patch_size, 1).repeat_interleave(self.patch_size, 2).unsqueeze(1)
        return self.loss_module(pred, target, mask.to(pred.dtype))

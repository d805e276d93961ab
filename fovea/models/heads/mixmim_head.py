"""MixMIM's head: each image's pixels from the decoded half that holds its own cells."""
from __future__ import annotations

import torch

from fovea.models.heads.mae_head import MAEPretrainHead
from fovea.registry import MODELS

__all__ = ['MixMIMPretrainHead']


@MODELS.register_module()
class MixMIMPretrainHead(MAEPretrainHead):
    """``loss(x_rec (2B, L, D), target (B, 3, H, W), mask (1, L, 1))``: the unmixed reconstruction
    (own cells from the first half, the others from the mirrored second half) against the target
    patches, over every patch (MMPretrain's)."""

    def __init__(self, loss: dict, norm_pix: bool = False, patch_size: int = 16, init_cfg: dict | list | None = None):
        super().__init__(loss=loss, norm_pix=norm_pix, patch_size=patch_size, init_cfg=init_cfg)

    def loss(self, x_rec: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        target = self.construct_target(target)
        B = x_rec.shape[0] // 2
        unmixed = x_rec[:B] * mask + x_rec[B:].flip(0) * (1 - mask)
        return self.loss_module(unmixed, target)

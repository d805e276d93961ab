"""SparK's head: the masked regions' (normalised) pixels as MAE's patch targets."""
from __future__ import annotations

import torch

from fovea.models.heads.mae_head import MAEPretrainHead
from fovea.registry import MODELS

__all__ = ['SparKPretrainHead']


@MODELS.register_module()
class SparKPretrainHead(MAEPretrainHead):
    """``forward(pred, target, active_mask)``: the reconstructed image ``pred`` and the image
    ``target`` (B, 3, H, W) cut into ``patch_size`` patches (the encoder's downsampling), scored
    on the patches that were not visible (``active_mask`` (B, 1, h, w) False).

    Args: loss, norm_pix (True), patch_size (32).
    """

    def __init__(self, loss: dict, norm_pix: bool = True, patch_size: int = 32, init_cfg: dict | list | None = None):
        super().__init__(loss=loss, norm_pix=norm_pix, patch_size=patch_size, init_cfg=init_cfg)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, active_mask: torch.Tensor) -> torch.Tensor:
        hidden = active_mask.logical_not().int().view(active_mask.shape[0], -1)
        return self.loss_module(self.patchify(pred), self.construct_target(target), hidden)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, active_mask: torch.Tensor) -> torch.Tensor:
        return self(pred, target, active_mask)

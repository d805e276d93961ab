"""iTPN's head for CLIP targets (MMPretrain's ``iTPNClipHead``): a linear layer on the masked patches'
features, scored against the CLIP features of those patches by the configured loss (cosine similarity, or
cross-entropy with the CLIP feature as soft target, as MMPretrain's configs use)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['iTPNClipHead']


@MODELS.register_module()
class iTPNClipHead(BaseModule):
    """``loss(feats (B, L, embed_dims), target (B, L, D), mask (B, h, w) or (B, L))`` ->
    ``loss_module(cls_head(feats[mask]), target[mask])``.

    Args:
        embed_dims: feature width. num_embed: output width (the target's, 512 for CLIP ViT-B/16).
        loss: the loss config.
    """

    def __init__(self, embed_dims: int, num_embed: int, loss: dict,
                 init_cfg: dict | list | None = dict(type='TruncNormal', layer='Linear', std=0.02, bias=0)):
        super().__init__(init_cfg)
        self.cls_head = nn.Linear(embed_dims, num_embed)
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, feats: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(feats.device).flatten(1).bool()
        return self.loss_module(self.cls_head(feats[mask]), target[mask])

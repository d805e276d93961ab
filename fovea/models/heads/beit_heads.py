"""BEiT's pre-training heads: a linear classifier over the tokenizer's codes for each masked patch."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['BEiTV1Head', 'BEiTV2Head']

_TRUNC_LINEAR = dict(type='TruncNormal', layer='Linear', std=0.02, bias=0)


class _CodeHead(BaseModule):
    def __init__(self, embed_dims: int, num_embed: int, loss: dict, init_cfg: dict | list | None = _TRUNC_LINEAR):
        super().__init__(init_cfg)
        self.cls_head = nn.Linear(embed_dims, num_embed)
        self.loss_module = MODELS.build(loss, key='loss')


@MODELS.register_module()
class BEiTV1Head(_CodeHead):
    """BEiT v1: ``loss(feats, target, mask)`` with ``feats`` the backbone's (B, 1 + N, C) tokens,
    ``target`` DALL-E's (B, vocab, h, w) logits (their argmax is the code) and ``mask`` (B, h, w):
    cross-entropy of the masked patches' code predictions."""

    def loss(self, feats: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.flatten(1).bool()
        target = target.argmax(1).flatten(1)[mask]
        return self.loss_module(self.cls_head(feats[:, 1:][mask]), target)


@MODELS.register_module()
class BEiTV2Head(_CodeHead):
    """BEiT v2: ``loss(feats, feats_cls_pt, target, mask)`` with patch features (B, N, C) from the
    last layer and from the neck's class-token path, ``target`` VQ-KD's (B, N) codes: the two
    cross-entropies of the masked patches (one shared classifier)."""

    def loss(self, feats: torch.Tensor, feats_cls_pt: torch.Tensor, target: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = mask.flatten(1).bool()
        target = target[mask]
        return (self.loss_module(self.cls_head(feats[mask]), target),
                self.loss_module(self.cls_head(feats_cls_pt[mask]), target))

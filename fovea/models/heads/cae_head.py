"""CAE's head: DALL-E codes of the masked patches as the decoder's targets, through ``CAELoss``."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['CAEHead']


@MODELS.register_module()
class CAEHead(BaseModule):
    """``loss(logits, logits_target, latent_pred, latent_target, mask)`` -> ``(loss_main, loss_align)``:
    ``logits`` (B * N_masked, vocab) against the argmax codes of DALL-E's ``logits_target``
    (B, vocab, h, w) at the masked positions of ``mask`` (B, h*w)."""

    def __init__(self, loss: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, logits: torch.Tensor, logits_target: torch.Tensor, latent_pred: torch.Tensor,
             latent_target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = logits_target.argmax(1).flatten(1)[mask.flatten(1).bool()].detach()
        return self.loss_module(logits, target, latent_pred, latent_target)

"""MMPretrain's generic masked-image-modelling head: the loss of predictions against targets."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['MIMHead']


@MODELS.register_module()
class MIMHead(BaseModule):
    """``loss(pred, target, mask=None)`` -> ``loss_module(pred, target, mask)`` (B x L x C tensors,
    a B x L mask)."""

    def __init__(self, loss: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.loss_module(pred, target, mask)

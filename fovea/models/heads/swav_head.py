"""SwAVHead: the SwAV loss on the crops' embeddings (MMPretrain's head)."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['SwAVHead']


@MODELS.register_module()
class SwAVHead(BaseModule):
    """``loss(pred)``: ``loss_module(pred)`` (a ``SwAVLoss``, which owns the prototypes and the queue)."""

    def __init__(self, loss: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, pred: torch.Tensor) -> torch.Tensor:
        return self.loss_module(pred)

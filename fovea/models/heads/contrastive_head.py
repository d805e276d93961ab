"""ContrastiveHead: InfoNCE over one positive and k negative similarities (MMPretrain's head)."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['ContrastiveHead']


@MODELS.register_module()
class ContrastiveHead(BaseModule):
    """``loss(pos (N, 1), neg (N, k))``: cross-entropy of ``[pos, neg] / temperature`` with target 0.

    Args:
        loss: the classification loss config (``dict(type='CrossEntropyLoss')``).
        temperature: softmax temperature (SimCLR and MoCo v2: 0.1 and 0.2).
    """

    def __init__(self, loss: dict, temperature: float = 0.1, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss, key='loss')
        self.temperature = temperature

    def loss(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        logits = torch.cat((pos, neg), dim=1) / self.temperature
        target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        return self.loss_module(logits, target)

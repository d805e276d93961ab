"""Generalized mean pooling (Radenovic et al., "Fine-tuning CNN Image Retrieval with No Human Annotation",
TPAMI 2018)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['GeneralizedMeanPooling', 'gem']


def gem(x: torch.Tensor, p: torch.Tensor | float, eps: float = 1e-6, clamp: bool = True) -> torch.Tensor:
    """``(mean over H, W of x ** p) ** (1 / p)``; ``clamp`` keeps ``x >= eps`` so fractional powers are defined."""
    if clamp:
        x = x.clamp(min=eps)
    return x.pow(p).mean(dim=(-2, -1)).pow(1. / p)


@MODELS.register_module()
class GeneralizedMeanPooling(nn.Module):
    """GeM pooling: a power mean over each feature map, between average (p=1) and max (p -> inf) pooling.

    Args:
        p: the power (>= 1); stored as the parameter ``p``.
        eps: lower clamp of the features.
        clamp: clamp the features to ``eps`` before the power.
        p_trainable: learn ``p`` (True by default, as in MMPretrain).
    """

    def __init__(self, p: float = 3., eps: float = 1e-6, clamp: bool = True, p_trainable: bool = True):
        super().__init__()
        if p < 1:
            raise ConfigError(f'GeneralizedMeanPooling needs p >= 1, got {p}')
        self.p = nn.Parameter(torch.ones(1) * p, requires_grad=p_trainable)
        self.eps = eps
        self.clamp = clamp
        self.p_trainable = p_trainable

    def init_weights(self) -> None:
        """``p`` keeps its constructor value."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return gem(x, self.p, self.eps, self.clamp).flatten(1)

    def forward(self, inputs: tuple[torch.Tensor, ...] | torch.Tensor):
        if isinstance(inputs, tuple):
            return tuple(self._pool(x) for x in inputs)
        return self._pool(inputs)

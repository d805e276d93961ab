"""DINO's projection head (MMPretrain project's ``DINONeck``; DINO's ``DINOHead`` MLP)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['DINONeck', 'WeightNormLinear']


class WeightNormLinear(nn.Module):
    """``Linear(bias=False)`` with weight normalisation (Salimans & Kingma 2016) per output unit:
    ``weight = weight_g * weight_v / ||weight_v||``, the state-dict names of
    ``torch.nn.utils.weight_norm`` (``weight_g`` (out, 1), ``weight_v`` (out, in)), as DINO's
    checkpoints store them. ``fix_norm`` freezes ``weight_g`` at 1 (DINO's ``norm_last_layer``)."""

    def __init__(self, in_features: int, out_features: int, fix_norm: bool = True):
        super().__init__()
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_g = nn.Parameter(torch.ones(out_features, 1), requires_grad=not fix_norm)
        nn.init.trunc_normal_(self.weight_v, std=0.02)

    @property
    def weight(self) -> torch.Tensor:
        return self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


@MODELS.register_module()
class DINONeck(BaseModule):
    """MLP (``num_layers`` linear layers with GELU, the last to ``bottleneck_channels``), L2
    normalisation, then a weight-normalised linear layer to ``out_channels`` prototypes (65,536 in
    DINO), without bias.

    Args:
        in_channels / hidden_channels / bottleneck_channels / out_channels: widths (DINO: 2048, 256).
        num_layers: linear layers of the MLP (DINO: 3).
        norm_last_layer: keep the last layer's weight norm at 1 (DINO's default; its ViT-S/16
            recipe turns it off for better accuracy, at some cost in stability).

    Input: the backbone's last output, a (N, C) class token or a (N, C, H, W) map (average-pooled).
    State-dict names as MMPretrain's project: ``mlp.0/2/4``, ``last_layer.weight_g/weight_v``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, bottleneck_channels: int,
                 num_layers: int = 3, norm_last_layer: bool = True, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if num_layers < 1:
            raise ConfigError(f'DINONeck num_layers must be >= 1, got {num_layers}.')
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [bottleneck_channels]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.last_layer = WeightNormLinear(bottleneck_channels, out_channels, fix_norm=norm_last_layer)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        x = x[-1] if isinstance(x, (list, tuple)) else x
        if x.ndim == 4:
            x = x.mean((2, 3))
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        return (self.last_layer(x),)

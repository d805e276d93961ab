"""Necks of the evaluation protocols (linear probing of a pretrained backbone), with MMPretrain's
names, arguments and state-dict keys: ``LinearNeck`` (fc -> norm -> act) and ``ClsBatchNormNeck``
(MAE's linear probe: a non-affine BatchNorm of the class token before the linear head)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['LinearNeck', 'ClsBatchNormNeck']


@MODELS.register_module()
class LinearNeck(BaseModule):
    """Pool (``gap_dim``), then ``fc`` -> ``norm`` -> ``act`` on the last backbone output.

    Args:
        in_channels / out_channels: widths of ``fc``.
        gap_dim: 0 no pooling, 1/2/3 adaptive average pooling of 1-D/2-D/3-D maps.
        norm_cfg: norm after ``fc`` (default BN1d; None: none). act_cfg: activation (default none).
    """

    def __init__(self, in_channels: int, out_channels: int, gap_dim: int = 0,
                 norm_cfg: dict | None = dict(type='BN1d'), act_cfg: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if gap_dim not in (0, 1, 2, 3):
            raise ConfigError(f'LinearNeck gap_dim must be 0 (no pooling), 1, 2 or 3, got {gap_dim!r}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.gap = {0: nn.Identity, 1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d,
                    3: nn.AdaptiveAvgPool3d}[gap_dim](*(() if gap_dim == 0 else (1,)))
        self.fc = nn.Linear(in_channels, out_channels)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1] if norm_cfg else nn.Identity()
        self.act = build_activation_layer(act_cfg)

    def forward(self, inputs: tuple[torch.Tensor, ...] | torch.Tensor) -> tuple[torch.Tensor]:
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        x = self.gap(x).flatten(1)
        return (self.act(self.norm(self.fc(x))),)


@MODELS.register_module()
class ClsBatchNormNeck(BaseModule):
    """BatchNorm1d over the batch of each (N, C) input (MAE's linear probe normalises the class token).

    Args:
        input_features: C. affine: learnable scale/shift (default False). eps: default 1e-6.
    """

    def __init__(self, input_features: int, affine: bool = False, eps: float = 1e-6,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.bn = nn.BatchNorm1d(input_features, affine=affine, eps=eps)

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return tuple(self.bn(x) for x in inputs)

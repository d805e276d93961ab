"""Projector necks of the self-supervised algorithms (MMPretrain's arguments and state-dict keys)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.registry import MODELS

__all__ = ['NonLinearNeck', 'MoCoV2Neck']


def _norm_1d(norm_cfg: dict | None, channels: int, affine: bool = True) -> nn.Module:
    """A norm layer for (N, C) features: BN becomes BatchNorm1d; SyncBN stays SyncBatchNorm (it
    accepts (N, C)), which runs as plain BatchNorm in a single process."""
    cfg = dict(norm_cfg or dict(type='BN'))
    if cfg['type'] in ('BN', 'BN2d'):
        cfg['type'] = 'BN1d'
    if not affine:
        cfg['affine'] = False
    return build_norm_layer(cfg, channels)[1]


def _single_input(x: tuple[torch.Tensor, ...], name: str, with_avg_pool: bool) -> torch.Tensor:
    """The one feature map a projector takes, globally average-pooled if asked, as (N, C)."""
    if len(x) != 1:
        raise ValueError(f'{name} takes one feature map (backbone out_indices of length 1), got {len(x)}')
    x = x[0]
    if with_avg_pool and x.ndim == 4:
        x = x.mean((2, 3))
    return x.flatten(1)


@MODELS.register_module()
class NonLinearNeck(BaseModule):
    """fc-bn-[relu-fc-bn] x (num_layers - 1) on the globally pooled last feature map.

    Args:
        in_channels / hid_channels / out_channels: widths.
        num_layers: number of linear layers (2: SimCLR's projector).
        with_bias: bias in all but the last linear layer; with_last_bias: in the last.
        with_last_bn / with_last_bn_affine: a (non-affine for SimSiam) BN after the last layer.
        with_avg_pool: average-pool (N, C, H, W) maps first.
        norm_cfg: the BN type (MMPretrain's default SyncBN).
    """

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, num_layers: int = 2,
                 with_bias: bool = False, with_last_bn: bool = True, with_last_bn_affine: bool = True,
                 with_last_bias: bool = False, with_avg_pool: bool = True,
                 norm_cfg: dict = dict(type='SyncBN'),
                 init_cfg: dict | list | None = (dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),)):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        self.with_avg_pool = with_avg_pool
        self.relu = nn.ReLU(inplace=True)
        self.fc0 = nn.Linear(in_channels, hid_channels, bias=with_bias)
        self.bn0 = _norm_1d(norm_cfg, hid_channels)
        self.fc_names, self.bn_names = [], []
        for i in range(1, num_layers):
            last = i == num_layers - 1
            width = out_channels if last else hid_channels
            self.add_module(f'fc{i}', nn.Linear(hid_channels, width, bias=with_last_bias if last else with_bias))
            self.fc_names.append(f'fc{i}')
            if not last or with_last_bn:
                self.add_module(f'bn{i}', _norm_1d(norm_cfg, width, affine=with_last_bn_affine if last else True))
                self.bn_names.append(f'bn{i}')
            else:
                self.bn_names.append(None)

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        x = self.bn0(self.fc0(_single_input(x, 'NonLinearNeck', self.with_avg_pool)))
        for fc, bn in zip(self.fc_names, self.bn_names):
            x = getattr(self, fc)(self.relu(x))
            if bn is not None:
                x = getattr(self, bn)(x)
        return (x,)


@MODELS.register_module()
class MoCoV2Neck(BaseModule):
    """MoCo v2's projector: fc-relu-fc on the globally pooled last feature map (keys ``mlp.0``, ``mlp.2``)."""

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, with_avg_pool: bool = True,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.with_avg_pool = with_avg_pool
        self.mlp = nn.Sequential(nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hid_channels, out_channels))

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        return (self.mlp(_single_input(x, 'MoCoV2Neck', self.with_avg_pool)),)

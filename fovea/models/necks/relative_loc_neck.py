"""RelativeLocNeck: MMSelfSup 0.x's neck for relative patch location (names and arguments carried over)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.necks.nonlinear_neck import _norm_1d
from fovea.registry import MODELS

__all__ = ['RelativeLocNeck']


@MODELS.register_module()
class RelativeLocNeck(BaseModule):
    """fc-bn-relu-dropout on a pair of patch features concatenated along channels.

    Args:
        in_channels: the width of ONE patch's feature; the input has ``2 * in_channels`` channels
            (neighbour, then centre) and the fc maps them to ``out_channels``.
        out_channels: output width.
        with_avg_pool: average-pool (N, 2C, H, W) maps first.
        norm_cfg: the BN type (MMSelfSup's BN1d, with its momentum 0.003).
    """

    def __init__(self, in_channels: int, out_channels: int, with_avg_pool: bool = True,
                 norm_cfg: dict = dict(type='BN1d'),
                 init_cfg: dict | list | None = (dict(type='Normal', std=0.01, layer='Linear'),
                                                 dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        self.in_channels = in_channels
        self.with_avg_pool = with_avg_pool
        self.fc = nn.Linear(in_channels * 2, out_channels)
        self.bn = _norm_1d(dict(norm_cfg, momentum=0.003), out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout()

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor]:
        if len(x) != 1:
            raise ValueError(f'RelativeLocNeck takes one feature map, got {len(x)}')
        x = x[0]
        if self.with_avg_pool and x.ndim == 4:
            x = x.mean((2, 3))
        x = x.flatten(1)
        if x.size(1) != 2 * self.in_channels:
            raise ValueError(f'RelativeLocNeck(in_channels={self.in_channels}) takes pairs of '
                             f'{self.in_channels}-channel features ({2 * self.in_channels} channels), got {x.size(1)}; '
                             f"set in_channels to the backbone's output width.")
        return (self.drop(self.relu(self.bn(self.fc(x)))),)

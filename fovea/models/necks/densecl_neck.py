"""DenseCLNeck: DenseCL's global and dense projectors side by side (MMPretrain's arguments and keys)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS

__all__ = ['DenseCLNeck']


@MODELS.register_module()
class DenseCLNeck(BaseModule):
    """fc-relu-fc on the pooled map (``mlp``) and 1x1 conv-relu-conv on every cell (``mlp2``).

    Args:
        in_channels / hid_channels / out_channels: widths.
        num_grid: average-pool the map to ``num_grid x num_grid`` cells before ``mlp2`` (None: keep it).

    ``forward((x,))`` returns ``(global (N, out), dense (N, out, S*S), pooled dense (N, out))``: the
    global embedding, one embedding per cell, and their average (the keys of DenseCL's dense queue).
    """

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, num_grid: int | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.mlp = nn.Sequential(nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hid_channels, out_channels))
        self.num_grid = num_grid
        self.mlp2 = nn.Sequential(nn.Conv2d(in_channels, hid_channels, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hid_channels, out_channels, 1))

    def forward(self, x: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if len(x) != 1:
            raise ValueError(f'DenseCLNeck takes one feature map (backbone out_indices of length 1), got {len(x)}')
        x = x[0]
        global_feat = self.mlp(x.mean((2, 3)))
        if self.num_grid is not None:
            x = F.adaptive_avg_pool2d(x, self.num_grid)
        dense = self.mlp2(x).flatten(2)
        return global_feat, dense, dense.mean(2)

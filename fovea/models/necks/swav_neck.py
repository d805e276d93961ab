"""SwAVNeck: SwAV's projector over all crops at once (MMPretrain's arguments and state-dict keys)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.necks.nonlinear_neck import _norm_1d
from fovea.registry import MODELS

__all__ = ['SwAVNeck']


@MODELS.register_module()
class SwAVNeck(BaseModule):
    """fc-bn-relu-fc, then L2 normalisation, on the pooled maps of every crop group.

    Args:
        in_channels / hid_channels / out_channels: widths (``out_channels=0``: no projection,
            ``hid_channels=0``: one linear layer).
        with_avg_pool: average-pool (N, C, H, W) maps first.
        with_l2norm: L2-normalise the output.
        norm_cfg: the BN type (MMPretrain's default SyncBN; ``BN`` becomes BatchNorm1d).

    ``forward(groups)`` takes one backbone output per group of same-sized crops (``SwAV`` runs the
    backbone once per resolution) and returns the (sum of crops x N, out_channels) embeddings, crop
    by crop. The BN is reachable as ``norm`` and as ``projection_neck.1`` (both key sets, as MMPretrain).
    """

    def __init__(self, in_channels: int, hid_channels: int, out_channels: int, with_avg_pool: bool = True,
                 with_l2norm: bool = True, norm_cfg: dict = dict(type='SyncBN'),
                 init_cfg: dict | list | None = (dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),)):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        self.with_avg_pool = with_avg_pool
        self.with_l2norm = with_l2norm
        if out_channels == 0:
            self.projection_neck = nn.Identity()
        elif hid_channels == 0:
            self.projection_neck = nn.Linear(in_channels, out_channels)
        else:
            self.norm = _norm_1d(norm_cfg, hid_channels)
            self.projection_neck = nn.Sequential(nn.Linear(in_channels, hid_channels), self.norm,
                                                 nn.ReLU(inplace=True), nn.Linear(hid_channels, out_channels))

    def forward_projection(self, x: torch.Tensor) -> torch.Tensor:
        x = self.projection_neck(x)
        return F.normalize(x, dim=1) if self.with_l2norm else x

    def forward(self, x: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
        feats = []
        for group in x:
            f = group[0]
            if self.with_avg_pool and f.ndim == 4:
                f = f.mean((2, 3))
            feats.append(f.flatten(1))
        return self.forward_projection(torch.cat(feats))

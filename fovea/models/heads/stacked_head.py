"""StackedLinearClsHead: an MLP classifier (fc -> [norm] -> act -> [dropout], repeated, then fc)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.heads.cls_head import ClsHead
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.registry import MODELS

__all__ = ['StackedLinearClsHead', 'LinearBlock']


class LinearBlock(nn.Module):
    """fc -> optional norm -> optional activation -> optional dropout.

    Children are named ``fc``, ``norm``, ``act`` and ``dropout`` (MMPretrain's names).
    """

    def __init__(self, in_channels: int, out_channels: int, dropout_rate: float = 0., norm_cfg: dict | None = None,
                 act_cfg: dict | None = None):
        super().__init__()
        self.fc = nn.Linear(in_channels, out_channels)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1] if norm_cfg is not None else None
        self.act = build_activation_layer(act_cfg) if act_cfg is not None else None
        self.dropout = nn.Dropout(p=dropout_rate) if dropout_rate > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        for m in (self.norm, self.act, self.dropout):
            if m is not None:
                x = m(x)
        return x


@MODELS.register_module()
class StackedLinearClsHead(ClsHead):
    """Several fully connected layers on the pooled features (e.g. MobileNetV3's classifier).

    Args:
        num_classes: number of classes.
        in_channels: input feature size.
        mid_channels: widths of the hidden layers, e.g. ``[1280]``.
        dropout_rate: dropout after each hidden layer.
        norm_cfg: norm of the hidden layers (e.g. ``dict(type='BN1d')``), None for none.
        act_cfg: activation of the hidden layers.
    """

    def __init__(self, num_classes: int, in_channels: int, mid_channels: Sequence[int], dropout_rate: float = 0.,
                 norm_cfg: dict | None = None, act_cfg: dict | None = dict(type='ReLU'), **kwargs):
        kwargs.setdefault('init_cfg', dict(type='Normal', layer='Linear', std=0.01))
        super().__init__(**kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be a positive integer')
        if isinstance(mid_channels, int) or not len(mid_channels):
            raise ValueError(f'mid_channels must be a non-empty list of widths, got {mid_channels!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.mid_channels = list(mid_channels)
        self.layers = nn.ModuleList()
        width = in_channels
        for hidden in self.mid_channels:
            self.layers.append(LinearBlock(width, hidden, dropout_rate, norm_cfg, act_cfg))
            width = hidden
        self.layers.append(LinearBlock(width, num_classes))

    def pre_logits(self, feats) -> torch.Tensor:
        x = super().pre_logits(feats)
        for layer in self.layers[:-1]:
            x = layer(x)
        return x

    def forward(self, feats) -> torch.Tensor:
        return self.layers[-1](self.pre_logits(feats))

"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016).

Factorised convolutions (5x5 as two 3x3, n x n as 1 x n then n x 1) in five kinds of Inception
blocks (A-E), for 299x299 inputs. Module names are torchvision's and MMPretrain's
(``Conv2d_1a_3x3``, ``Mixed_5b.branch1x1`` ...), so both checkpoints load directly.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.basic_conv import BasicConv2d
from fovea.registry import MODELS

__all__ = ['InceptionV3', 'InceptionA', 'InceptionB', 'InceptionC', 'InceptionD', 'InceptionE', 'InceptionAux']


def _conv(cin: int, cout: int, k, conv_cfg: dict | None, stride: int = 1, padding=0) -> BasicConv2d:
    return BasicConv2d(cin, cout, conv_cfg=conv_cfg, kernel_size=k, stride=stride, padding=padding)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, in_channels: int, pool_features: int, conv_cfg: dict | None = None):
        super().__init__()
        self.branch1x1 = _conv(in_channels, 64, 1, conv_cfg)
        self.branch5x5_1 = _conv(in_channels, 48, 1, conv_cfg)
        self.branch5x5_2 = _conv(48, 64, 5, conv_cfg, padding=2)
        self.branch3x3dbl_1 = _conv(in_channels, 64, 1, conv_cfg)
        self.branch3x3dbl_2 = _conv(64, 96, 3, conv_cfg, padding=1)
        self.branch3x3dbl_3 = _conv(96, 96, 3, conv_cfg, padding=1)
        self.branch_pool_downsample = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = _conv(in_channels, pool_features, 1, conv_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(self.branch_pool_downsample(x)),
        ], 1)


class InceptionB(nn.Module):
    """35 -> 17 grid reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int, conv_cfg: dict | None = None):
        super().__init__()
        self.branch3x3 = _conv(in_channels, 384, 3, conv_cfg, stride=2)
        self.branch3x3dbl_1 = _conv(in_channels, 64, 1, conv_cfg)
        self.branch3x3dbl_2 = _conv(64, 96, 3, conv_cfg, padding=1)
        self.branch3x3dbl_3 = _conv(96, 96, 3, conv_cfg, stride=2)
        self.branch_pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(x),
        ], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convs: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1."""

    def __init__(self, in_channels: int, channels_7x7: int, conv_cfg: dict | None = None):
        super().__init__()
        c7 = channels_7x7
        h, v = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = _conv(in_channels, 192, 1, conv_cfg)
        self.branch7x7_1 = _conv(in_channels, c7, 1, conv_cfg)
        self.branch7x7_2 = _conv(c7, c7, h[0], conv_cfg, padding=h[1])
        self.branch7x7_3 = _conv(c7, 192, v[0], conv_cfg, padding=v[1])
        self.branch7x7dbl_1 = _conv(in_channels, c7, 1, conv_cfg)
        self.branch7x7dbl_2 = _conv(c7, c7, v[0], conv_cfg, padding=v[1])
        self.branch7x7dbl_3 = _conv(c7, c7, h[0], conv_cfg, padding=h[1])
        self.branch7x7dbl_4 = _conv(c7, c7, v[0], conv_cfg, padding=v[1])
        self.branch7x7dbl_5 = _conv(c7, 192, h[0], conv_cfg, padding=h[1])
        self.branch_pool_downsample = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = _conv(in_channels, 192, 1, conv_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = conv(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(self.branch_pool_downsample(x))], 1)


class InceptionD(nn.Module):
    """17 -> 8 grid reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int, conv_cfg: dict | None = None):
        super().__init__()
        self.branch3x3_1 = _conv(in_channels, 192, 1, conv_cfg)
        self.branch3x3_2 = _conv(192, 320, 3, conv_cfg, stride=2)
        self.branch7x7x3_1 = _conv(in_channels, 192, 1, conv_cfg)
        self.branch7x7x3_2 = _conv(192, 192, (1, 7), conv_cfg, padding=(0, 3))
        self.branch7x7x3_3 = _conv(192, 192, (7, 1), conv_cfg, padding=(3, 0))
        self.branch7x7x3_4 = _conv(192, 192, 3, conv_cfg, stride=2)
        self.branch_pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, self.branch_pool(x)], 1)


class InceptionE(nn.Module):
    """8x8 block with expanded filter banks: 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | avgpool-1x1."""

    def __init__(self, in_channels: int, conv_cfg: dict | None = None):
        super().__init__()
        self.branch1x1 = _conv(in_channels, 320, 1, conv_cfg)
        self.branch3x3_1 = _conv(in_channels, 384, 1, conv_cfg)
        self.branch3x3_2a = _conv(384, 384, (1, 3), conv_cfg, padding=(0, 1))
        self.branch3x3_2b = _conv(384, 384, (3, 1), conv_cfg, padding=(1, 0))
        self.branch3x3dbl_1 = _conv(in_channels, 448, 1, conv_cfg)
        self.branch3x3dbl_2 = _conv(448, 384, 3, conv_cfg, padding=1)
        self.branch3x3dbl_3a = _conv(384, 384, (1, 3), conv_cfg, padding=(0, 1))
        self.branch3x3dbl_3b = _conv(384, 384, (3, 1), conv_cfg, padding=(1, 0))
        self.branch_pool_downsample = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.branch_pool = _conv(in_channels, 192, 1, conv_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
            self.branch_pool(self.branch_pool_downsample(x)),
        ], 1)


class InceptionAux(BaseModule):
    """Auxiliary classifier on the 17x17 features (training only)."""

    def __init__(self, in_channels: int, num_classes: int, conv_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = [dict(type='TruncNormal', layer='Conv2d', std=0.01),
                                                       dict(type='TruncNormal', layer='Linear', std=0.001)]):
        super().__init__(init_cfg)
        self.downsample = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv0 = _conv(in_channels, 128, 1, conv_cfg)
        self.conv1 = _conv(128, 768, 5, conv_cfg)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.gap(self.conv1(self.conv0(self.downsample(x)))).flatten(1))


@MODELS.register_module()
class InceptionV3(BaseBackbone):
    """Inception v3 backbone with its classifier (MMPretrain's arguments).

    Args:
        num_classes: classes of the built-in classifier (use ``ClsHead``); ``-1`` leaves the classifier out
            and returns the 2048-channel 8x8 feature map (use a neck and ``LinearClsHead``).
        aux_logits: build the auxiliary classifier. With the classifier the output is
            ``(aux_logits, logits)`` as in MMPretrain, ``aux_logits`` being None in eval mode or
            without the auxiliary classifier (heads read the last entry); without it
            (``num_classes=-1``) the output is ``(feature_map,)``.
        dropout: dropout before the classifier.
    """
    prefers_channels_last = True

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, dropout: float = 0.5,
                 init_cfg: dict | list[dict] | None = [
                     dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=0.1),
                     dict(type='Constant', layer='BatchNorm2d', val=1)]):
        super().__init__(init_cfg)
        if aux_logits and num_classes <= 0:
            raise ValueError('InceptionV3(aux_logits=True) needs num_classes > 0')
        self.num_classes = num_classes
        self.aux_logits = aux_logits
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.fc = nn.Linear(2048, num_classes)
        # the output (the auxiliary logits, returned first in training mode, are not a selectable output)
        self.stage_channels = (num_classes if num_classes > 0 else 2048,)
        self.stage_reductions = (None if num_classes > 0 else 32,)

    _early = ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'maxpool1', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3',
              'maxpool2', 'Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d',
              'Mixed_6e')

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        for name in self._early:
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        if self.num_classes <= 0:
            return (x,)
        return aux, self.fc(self.dropout(self.avgpool(x)).flatten(1))

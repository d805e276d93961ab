"""EfficientNetV2 (Tan & Le, "EfficientNetV2: Smaller Models and Faster Training", ICML 2021).

A 3x3 stride-2 stem, fused-MBConv stages early (a full kxk expansion conv, no depthwise: fovea's
:class:`EdgeResidual`), MBConv stages with squeeze-excitation later (:class:`InvertedResidual`), and a 1x1
head conv to 1280 (1408/1536 for B2/B3) channels. MMPretrain's arch table, arguments and module names
(``layers.0`` stem, ``layers.1..N-2`` stages, ``layers.N-1`` head conv), so its checkpoints load unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.efficientnet import EdgeResidual, EfficientNet
from fovea.models.backbones.vision_transformer import _linspace, _out_indices
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.drop import DropPath
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['EfficientNetV2', 'EnhancedConvModule']


class EnhancedConvModule(ConvModule):
    """A :class:`ConvModule` with an optional residual (stochastic depth on the branch): the blocks of
    EfficientNetV2's first stage."""

    def __init__(self, *args, has_skip: bool = False, drop_path_rate: float = 0., **kwargs):
        super().__init__(*args, **kwargs)
        conv = self.conv
        if has_skip and (conv.in_channels != conv.out_channels or conv.stride != (1, 1)):
            raise ConfigError('EnhancedConvModule has_skip=True needs stride 1 and in_channels == out_channels, got '
                              f'{conv.in_channels} -> {conv.out_channels}, stride {conv.stride}')
        self.has_skip = has_skip
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return x + self.drop_path(out) if self.has_skip else out


@MODELS.register_module()
class EfficientNetV2(BaseBackbone):
    """EfficientNetV2 S/M/L/XL and B0-B3 backbones with MMPretrain's arguments.

    Args:
        arch: 's'/'small', 'm'/'medium', 'l'/'large', 'xl', 'b0' .. 'b3'.
        in_channels: input channels.
        drop_path_rate: stochastic depth, rising linearly over the blocks (0 on first-stage blocks without
            a residual).
        out_indices: layers to return (0: stem, ..., -1: the head conv).
        frozen_stages: freeze ``layers.0`` .. ``layers.{frozen_stages - 1}``.
        conv_cfg: the convs of the stem, the head and stride-2 blocks (TensorFlow 'SAME' padding by default,
            as the ported weights need; stride-1 blocks pad symmetrically).
        norm_cfg / act_cfg: BN (eps 1e-3) and Swish (SiLU).
        norm_eval, with_cp: as usual.
    """
    prefers_channels_last = True

    #: per stage: repeats, kernel, stride, expand ratio, in channels, out channels, SE ratio, block type
    #: (-1: ConvModule, 0: fused MBConv, 1: MBConv, -2: the head conv)
    arch_settings = {
        **dict.fromkeys(['small', 's'], [
            [2, 3, 1, 1, 24, 24, 0.0, -1], [4, 3, 2, 4, 24, 48, 0.0, 0], [4, 3, 2, 4, 48, 64, 0.0, 0],
            [6, 3, 2, 4, 64, 128, 0.25, 1], [9, 3, 1, 6, 128, 160, 0.25, 1], [15, 3, 2, 6, 160, 256, 0.25, 1],
            [1, 1, 1, 1, 256, 1280, 0.0, -2]]),
        **dict.fromkeys(['m', 'medium'], [
            [3, 3, 1, 1, 24, 24, 0.0, -1], [5, 3, 2, 4, 24, 48, 0.0, 0], [5, 3, 2, 4, 48, 80, 0.0, 0],
            [7, 3, 2, 4, 80, 160, 0.25, 1], [14, 3, 1, 6, 160, 176, 0.25, 1], [18, 3, 2, 6, 176, 304, 0.25, 1],
            [5, 3, 1, 6, 304, 512, 0.25, 1], [1, 1, 1, 1, 512, 1280, 0.0, -2]]),
        **dict.fromkeys(['l', 'large'], [
            [4, 3, 1, 1, 32, 32, 0.0, -1], [7, 3, 2, 4, 32, 64, 0.0, 0], [7, 3, 2, 4, 64, 96, 0.0, 0],
            [10, 3, 2, 4, 96, 192, 0.25, 1], [19, 3, 1, 6, 192, 224, 0.25, 1], [25, 3, 2, 6, 224, 384, 0.25, 1],
            [7, 3, 1, 6, 384, 640, 0.25, 1], [1, 1, 1, 1, 640, 1280, 0.0, -2]]),
        'xl': [
            [4, 3, 1, 1, 32, 32, 0.0, -1], [8, 3, 2, 4, 32, 64, 0.0, 0], [8, 3, 2, 4, 64, 96, 0.0, 0],
            [16, 3, 2, 4, 96, 192, 0.25, 1], [24, 3, 1, 6, 192, 256, 0.25, 1], [32, 3, 2, 6, 256, 512, 0.25, 1],
            [8, 3, 1, 6, 512, 640, 0.25, 1], [1, 1, 1, 1, 640, 1280, 0.0, -2]],
        'b0': [
            [1, 3, 1, 1, 32, 16, 0.0, -1], [2, 3, 2, 4, 16, 32, 0.0, 0], [2, 3, 2, 4, 32, 48, 0.0, 0],
            [3, 3, 2, 4, 48, 96, 0.25, 1], [5, 3, 1, 6, 96, 112, 0.25, 1], [8, 3, 2, 6, 112, 192, 0.25, 1],
            [1, 1, 1, 1, 192, 1280, 0.0, -2]],
        'b1': [
            [2, 3, 1, 1, 32, 16, 0.0, -1], [3, 3, 2, 4, 16, 32, 0.0, 0], [3, 3, 2, 4, 32, 48, 0.0, 0],
            [4, 3, 2, 4, 48, 96, 0.25, 1], [6, 3, 1, 6, 96, 112, 0.25, 1], [9, 3, 2, 6, 112, 192, 0.25, 1],
            [1, 1, 1, 1, 192, 1280, 0.0, -2]],
        'b2': [
            [2, 3, 1, 1, 32, 16, 0.0, -1], [3, 3, 2, 4, 16, 32, 0.0, 0], [3, 3, 2, 4, 32, 56, 0.0, 0],
            [4, 3, 2, 4, 56, 104, 0.25, 1], [6, 3, 1, 6, 104, 120, 0.25, 1], [10, 3, 2, 6, 120, 208, 0.25, 1],
            [1, 1, 1, 1, 208, 1408, 0.0, -2]],
        'b3': [
            [2, 3, 1, 1, 40, 16, 0.0, -1], [3, 3, 2, 4, 16, 40, 0.0, 0], [3, 3, 2, 4, 40, 56, 0.0, 0],
            [5, 3, 2, 4, 56, 112, 0.25, 1], [7, 3, 1, 6, 112, 136, 0.25, 1], [12, 3, 2, 6, 136, 232, 0.25, 1],
            [1, 1, 1, 1, 232, 1536, 0.0, -2]],
    }

    def __init__(self, arch: str | list = 's', in_channels: int = 3, drop_path_rate: float = 0.,
                 out_indices: int | Sequence[int] = (-1,), frozen_stages: int = 0,
                 conv_cfg: dict | None = dict(type='Conv2dAdaptivePadding'),
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.1), act_cfg: dict = dict(type='Swish'),
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer='Conv2d'),
                                                       dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'],
                                                            val=1)]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'EfficientNetV2 arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}, or give a list of stage rows.')
            arch = self.arch_settings[arch]
        if not arch or arch[-1][-1] != -2 or any(len(row) != 8 for row in arch):
            raise ConfigError('An EfficientNetV2 arch is a list of 8-entry stage rows (repeats, kernel, stride, expand '
                              'ratio, in channels, out channels, SE ratio, block type) whose last row is the '
                              f'head conv (block type -2), got {arch!r}')
        self.arch = arch
        num_layers = len(arch) + 1
        if frozen_stages not in range(num_layers + 1):
            raise ConfigError(f'EfficientNetV2 frozen_stages must be in range(0, {num_layers + 1}), '
                              f'got {frozen_stages}')
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.out_indices = tuple(_out_indices(out_indices, num_layers, 'EfficientNetV2'))
        self.layers = nn.ModuleList([ConvModule(in_channels, arch[0][4], 3, stride=2, conv_cfg=conv_cfg,
                                                norm_cfg=norm_cfg, act_cfg=act_cfg)])
        widths, reductions = [arch[0][4]], [2]
        dpr = iter(_linspace(drop_path_rate, sum(row[0] for row in arch[:-1])))
        in_ch = arch[0][4]
        for repeat, kernel, stride, expand, _, out_ch, se_ratio, kind in arch[:-1]:
            blocks = []
            for i in range(repeat):
                s, rate = stride if i == 0 else 1, next(dpr)
                if kind == -1:
                    skip = s == 1 and in_ch == out_ch
                    blocks.append(EnhancedConvModule(in_ch, out_ch, kernel, stride=s, padding=kernel // 2,
                                                     norm_cfg=norm_cfg, act_cfg=act_cfg, has_skip=skip,
                                                     drop_path_rate=rate if skip else 0.))
                else:
                    mid = int(in_ch * expand)
                    se_cfg = None if kind == 0 or se_ratio <= 0 else dict(
                        channels=mid, ratio=expand / se_ratio, divisor=1, act_cfg=(act_cfg, dict(type='Sigmoid')))
                    block = EdgeResidual if kind == 0 else InvertedResidual
                    blocks.append(block(in_ch, out_ch, mid, kernel_size=kernel, stride=s, se_cfg=se_cfg,
                                        conv_cfg=conv_cfg if s == 2 else None, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                        drop_path_rate=rate, with_cp=with_cp))
                in_ch = out_ch
            self.layers.append(nn.Sequential(*blocks))
            widths.append(in_ch)
            reductions.append(reductions[-1] * stride)
        _, kernel, stride, _, _, head_ch, _, _ = arch[-1]
        self.layers.append(ConvModule(in_ch, head_ch, kernel, stride=stride, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg))
        self.stage_channels = (*widths, head_ch)
        self.stage_reductions = (*reductions, reductions[-1] * stride)
        self._freeze_stages()

    # the outputs of ``layers[i]`` for i in out_indices, and freezing of the first layers, as EfficientNet's
    forward = EfficientNet.forward
    _freeze_stages = EfficientNet._freeze_stages

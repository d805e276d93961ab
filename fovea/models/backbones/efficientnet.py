"""EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019), with the EfficientNet-EdgeTPU variants (es/em/el)."""
from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule, make_divisible
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.models.layers.se import SELayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['EfficientNet', 'EdgeResidual']


class EdgeResidual(nn.Module):
    """Fused MBConv of EfficientNet-EdgeTPU: kxk full convolution (expand) -> optional SE -> 1x1 projection."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel_size: int = 3,
                 stride: int = 1, se_cfg: dict | None = None, with_residual: bool = True,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 drop_path_rate: float = 0., with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.with_se = se_cfg is not None
        self.with_residual = stride == 1 and in_channels == out_channels and with_residual
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.conv1 = ConvModule(in_channels, mid_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.conv2 = ConvModule(mid_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.with_se:
            out = self.se(out)
        out = self.conv2(out)
        return x + self.drop_path(out) if self.with_residual else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


def model_scaling(layer_setting: list, arch_setting: tuple[float, float, int]) -> list:
    """Scale the width (channels, rounded to multiples of 8) and depth (``ceil(depth * d)`` per
    group of blocks with equal channels) of a base layer setting, as MMPretrain does."""
    width, depth = arch_setting[0], arch_setting[1]
    setting = copy.deepcopy(layer_setting)
    for layer in setting:
        for block in layer:
            block[1] = make_divisible(block[1] * width, 8)
    # split the middle layers wherever the channels change, so each group scales on its own
    groups = []
    for layer in setting[1:-1]:
        start = 0
        for i in range(1, len(layer) + 1):
            if i == len(layer) or layer[i][1] != layer[i - 1][1]:
                groups.append(layer[start:i])
                start = i
    merged = [setting[0]]
    for i, group in enumerate(groups):
        n = int(math.ceil(depth * len(group)))
        scaled = group[:n] if n <= len(group) else copy.deepcopy(group) + [group[-1]] * (n - len(group))
        if scaled[0][3] == 1 and i != 0:  # stride-1 groups join the previous layer
            merged[-1] += copy.deepcopy(scaled)
        else:
            merged.append(copy.deepcopy(scaled))
    merged.append(setting[-1])
    return merged


@MODELS.register_module()
class EfficientNet(BaseBackbone):
    """EfficientNet B0..B8, L2 and EdgeTPU S/M/L backbones with MMPretrain's arguments and module names.

    ``layers.0`` is the 3x3 stride-2 stem, ``layers.1`` .. ``layers.N-2`` the MBConv stages (SiLU,
    squeeze-excitation with a quarter of the block's input width, stochastic depth rising linearly to
    ``drop_path_rate``), ``layers.N-1`` the 1x1 head convolution (1280 x width channels). Compound
    scaling of width, depth (and the training resolution, for reference) follows ``arch_settings``.

    The default ``conv_cfg=dict(type='Conv2dAdaptivePadding')`` pads like TensorFlow ('SAME'), as the
    ported weights of MMPretrain need; ``conv_cfg=None`` pads symmetrically (torchvision, timm).

    Args:
        arch: 'b0' .. 'b8', 'l2', 'es', 'em', 'el'.
        drop_path_rate: stochastic depth rate of the last block.
        out_indices: layers to return (default: the head convolution).
        frozen_stages: freeze ``layers.0`` .. ``layers.{frozen_stages-1}``.
        conv_cfg / norm_cfg / act_cfg: BN eps 1e-3, Swish (SiLU) by default.
        norm_eval, with_cp: as usual.
    """
    prefers_channels_last = True

    #: per layer, per block: kernel, channels, se ratio, stride, expand ratio, block type
    #: (-1: ConvModule, 0: InvertedResidual, 1: EdgeResidual)
    layer_settings = {
        'b': [[[3, 32, 0, 2, 0, -1]],
              [[3, 16, 4, 1, 1, 0]],
              [[3, 24, 4, 2, 6, 0], [3, 24, 4, 1, 6, 0]],
              [[5, 40, 4, 2, 6, 0], [5, 40, 4, 1, 6, 0]],
              [[3, 80, 4, 2, 6, 0], [3, 80, 4, 1, 6, 0], [3, 80, 4, 1, 6, 0],
               [5, 112, 4, 1, 6, 0], [5, 112, 4, 1, 6, 0], [5, 112, 4, 1, 6, 0]],
              [[5, 192, 4, 2, 6, 0], [5, 192, 4, 1, 6, 0], [5, 192, 4, 1, 6, 0], [5, 192, 4, 1, 6, 0],
               [3, 320, 4, 1, 6, 0]],
              [[1, 1280, 0, 1, 0, -1]]],
        'e': [[[3, 32, 0, 2, 0, -1]],
              [[3, 24, 0, 1, 3, 1]],
              [[3, 32, 0, 2, 8, 1], [3, 32, 0, 1, 8, 1]],
              [[3, 48, 0, 2, 8, 1], [3, 48, 0, 1, 8, 1], [3, 48, 0, 1, 8, 1], [3, 48, 0, 1, 8, 1]],
              [[5, 96, 0, 2, 8, 0], [5, 96, 0, 1, 8, 0], [5, 96, 0, 1, 8, 0], [5, 96, 0, 1, 8, 0],
               [5, 96, 0, 1, 8, 0], [5, 144, 0, 1, 8, 0], [5, 144, 0, 1, 8, 0], [5, 144, 0, 1, 8, 0],
               [5, 144, 0, 1, 8, 0]],
              [[5, 192, 0, 2, 8, 0], [5, 192, 0, 1, 8, 0]],
              [[1, 1280, 0, 1, 0, -1]]],
    }
    #: arch -> (width factor, depth factor, training resolution)
    arch_settings = {
        'b0': (1.0, 1.0, 224), 'b1': (1.0, 1.1, 240), 'b2': (1.1, 1.2, 260), 'b3': (1.2, 1.4, 300),
        'b4': (1.4, 1.8, 380), 'b5': (1.6, 2.2, 456), 'b6': (1.8, 2.6, 528), 'b7': (2.0, 3.1, 600),
        'b8': (2.2, 3.6, 672), 'l2': (4.3, 5.3, 800),
        'es': (1.0, 1.0, 224), 'em': (1.0, 1.1, 240), 'el': (1.2, 1.4, 300),
    }

    def __init__(self, arch: str = 'b0', drop_path_rate: float = 0., out_indices: Sequence[int] = (6,),
                 frozen_stages: int = 0, conv_cfg: dict | None = dict(type='Conv2dAdaptivePadding'),
                 norm_cfg: dict = dict(type='BN', eps=1e-3), act_cfg: dict = dict(type='Swish'),
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer='Conv2d'),
                                                       dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'],
                                                            val=1)]):
        super().__init__(init_cfg)
        if arch not in self.arch_settings:
            raise ConfigError(f'EfficientNet arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                              f'Choose one of {", ".join(self.arch_settings)}.')
        base = self.layer_settings['b' if arch == 'l2' else arch[0]]
        for index in out_indices:
            if index not in range(len(base)):
                raise ValueError(f'EfficientNet out_indices must be in range(0, {len(base)}), got {index}')
        if frozen_stages not in range(len(base) + 1):
            raise ValueError(f'EfficientNet frozen_stages must be in range(0, {len(base) + 1}), got {frozen_stages}')
        self.arch = arch
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.layer_setting = model_scaling(base, self.arch_settings[arch])
        stem, head = self.layer_setting[0][0], self.layer_setting[-1][0]
        in_channels = make_divisible(stem[1], 8)
        self.layers = nn.ModuleList([ConvModule(3, in_channels, stem[0], stride=stem[3], padding=stem[0] // 2,
                                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)])
        widths, reductions = [in_channels], [stem[3]]
        middle = self.layer_setting[1:-1]
        dpr = torch.linspace(0, drop_path_rate, sum(len(x) for x in middle), device='cpu').tolist()
        block_idx = 0
        for layer_cfg in middle:
            blocks = []
            for i, (kernel, channels, se_ratio, stride, expand_ratio, block_type) in enumerate(layer_cfg):
                out_channels = make_divisible(channels, 8)
                kwargs = dict(kernel_size=kernel, stride=stride, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                              act_cfg=act_cfg, drop_path_rate=dpr[block_idx], with_cp=with_cp)
                if block_type == 1:  # EdgeTPU fused block
                    with_residual = not (i > 0 and expand_ratio == 3)
                    expand_ratio = 4 if not with_residual else expand_ratio
                    block_cls, kwargs['with_residual'] = EdgeResidual, with_residual
                else:
                    block_cls = InvertedResidual
                mid_channels = int(in_channels * expand_ratio)
                se_cfg = None if se_ratio <= 0 else dict(
                    channels=mid_channels, ratio=expand_ratio * se_ratio, divisor=1,
                    act_cfg=(act_cfg, dict(type='Sigmoid')))
                blocks.append(block_cls(in_channels, out_channels, mid_channels, se_cfg=se_cfg, **kwargs))
                in_channels = out_channels
                block_idx += 1
            self.layers.append(nn.Sequential(*blocks))
            widths.append(in_channels)
            reductions.append(reductions[-1] * math.prod(block[3] for block in layer_cfg))
        self.layers.append(ConvModule(in_channels, head[1], head[0], stride=head[3], padding=head[0] // 2,
                                      conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.stage_channels = (*widths, head[1])
        self.stage_reductions = (*reductions, reductions[-1] * head[3])
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            freeze_module(self.layers[i])

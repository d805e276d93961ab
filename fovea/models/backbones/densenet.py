"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017).

Each layer of a dense block reads the concatenation of all earlier feature maps
(BN-ReLU-1x1 conv to ``bn_size * growth_rate`` channels, BN-ReLU-3x3 conv to ``growth_rate``);
transitions between blocks halve the channels (``compression_factor``) and the resolution.
Module names follow MMPretrain (``stem.0``, ``stages.0.block.0.conv1``, ``transitions.0.conv``).
"""
from __future__ import annotations

import math
from itertools import chain
from typing import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['DenseNet', 'DenseLayer', 'DenseBlock', 'DenseTransition']


class DenseLayer(nn.Module):
    """BN-act-1x1 conv (bottleneck) then BN-act-3x3 conv producing ``growth_rate`` new channels."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), drop_rate: float = 0., memory_efficient: bool = False):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, bias=False)
        self.act = build_activation_layer(act_cfg)
        self.norm2 = build_norm_layer(norm_cfg, bn_size * growth_rate)[1]
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def _bottleneck(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.act(self.norm1(torch.cat(xs, 1))))

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.memory_efficient and any(t.requires_grad for t in xs):
            out = cp.checkpoint(self._bottleneck, *xs, use_reentrant=False)
        else:
            out = self._bottleneck(*xs)
        out = self.conv2(self.act(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.Module):
    """``num_layers`` dense layers; the output concatenates the input and every layer's output."""

    def __init__(self, num_layers: int, in_channels: int, bn_size: int, growth_rate: int, **kwargs):
        super().__init__()
        self.block = nn.ModuleList([DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, **kwargs)
                                    for i in range(num_layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.block:
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseTransition(nn.Sequential):
    """BN-act-1x1 conv-2x2 average pool between dense blocks."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')):
        super().__init__()
        self.add_module('norm', build_norm_layer(norm_cfg, in_channels)[1])
        self.add_module('act', build_activation_layer(act_cfg))
        self.add_module('conv', nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))
        self.add_module('pool', nn.AvgPool2d(kernel_size=2, stride=2))


@MODELS.register_module()
class DenseNet(BaseBackbone):
    """DenseNet backbone (MMPretrain's arguments).

    Args:
        arch: '121', '161', '169', '201', or a dict with ``growth_rate``, ``depths``, ``init_channels``.
        in_channels: input channels.
        bn_size: width multiplier of the 1x1 bottleneck (``bn_size * growth_rate`` channels).
        drop_rate: dropout after each dense layer.
        compression_factor: channel reduction of the transitions.
        memory_efficient: recompute the concatenation + bottleneck in backward (gradient checkpointing).
        norm_cfg / act_cfg: norm and activation.
        out_indices: stages to return (negative counts from the end); default the last.
        frozen_stages: freeze the first ``frozen_stages`` dense blocks and their transitions.
        norm_eval: keep batch-norm statistics frozen in training mode.
    """
    prefers_channels_last = True

    arch_settings: dict[str, dict] = {
        '121': dict(growth_rate=32, depths=[6, 12, 24, 16], init_channels=64),
        '169': dict(growth_rate=32, depths=[6, 12, 32, 32], init_channels=64),
        '201': dict(growth_rate=32, depths=[6, 12, 48, 32], init_channels=64),
        '161': dict(growth_rate=48, depths=[6, 12, 36, 24], init_channels=96),
    }

    def __init__(self, arch: str | dict = '121', in_channels: int = 3, bn_size: int = 4, drop_rate: float = 0.,
                 compression_factor: float = 0.5, memory_efficient: bool = False,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 out_indices: int | Sequence[int] = -1, frozen_stages: int = 0, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if isinstance(arch, (str, int)):
            if str(arch) not in self.arch_settings:
                raise ConfigError(f'Unknown DenseNet arch {arch!r}.{did_you_mean(str(arch), self.arch_settings)} '
                                  f'Choose one of {sorted(self.arch_settings)} or pass a dict.')
            arch = self.arch_settings[str(arch)]
        missing = {'growth_rate', 'depths', 'init_channels'} - set(arch)
        if missing:
            raise ConfigError(f'A custom DenseNet arch dict needs the keys {sorted(missing)}')
        self.growth_rate = arch['growth_rate']
        self.depths = list(arch['depths'])
        self.init_channels = arch['init_channels']
        self.num_stages = len(self.depths)
        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        for i in out_indices:
            if not -self.num_stages <= i < self.num_stages:
                raise ConfigError(f'DenseNet out_indices {out_indices}: index {i} out of range for '
                                  f'{self.num_stages} stages')
        self.out_indices = [i % self.num_stages for i in out_indices]
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.act = build_activation_layer(act_cfg)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, self.init_channels, kernel_size=7, stride=2, padding=3, bias=False),
            build_norm_layer(norm_cfg, self.init_channels)[1], self.act,
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        channels = self.init_channels
        widths = []
        for i, depth in enumerate(self.depths):
            self.stages.append(DenseBlock(depth, channels, bn_size, self.growth_rate, norm_cfg=norm_cfg,
                                          act_cfg=act_cfg, drop_rate=drop_rate, memory_efficient=memory_efficient))
            channels += depth * self.growth_rate
            if i != self.num_stages - 1:
                out = math.floor(channels * compression_factor)
                self.transitions.append(DenseTransition(channels, out, norm_cfg=norm_cfg, act_cfg=act_cfg))
                channels = out
            else:  # the final norm + activation, counted as the last "transition" (MMPretrain's layout)
                self.transitions.append(nn.Sequential(build_norm_layer(norm_cfg, channels)[1], self.act))
            widths.append(channels)
        self.stage_channels = tuple(widths)
        # stem /4, each transition's 2x2 average pool /2 (the last stage has none)
        self.stage_reductions = tuple(4 * 2 ** min(i + 1, self.num_stages - 1) for i in range(self.num_stages))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i in range(self.num_stages):
            x = self.transitions[i](self.stages[i](x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            for m in chain([self.stages[i]], [self.transitions[i]]):
                freeze_module(m)

"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015).

Five stages of 3x3 convs (64-128-256-512-512 channels), each closed by a 2x2 max-pool;
VGG-11/13/16/19 differ in the number of convs per stage, and the ``-BN`` variants put a batch
norm after every conv (``norm_cfg=dict(type='BN')``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigKeyError

__all__ = ['VGG']


@MODELS.register_module()
class VGG(BaseBackbone):
    """VGG backbone with MMPretrain's arguments and module names (``features.{i}.conv``, ``classifier.{i}``).

    Args:
        depth: 11, 13, 16 or 19.
        num_classes: when > 0, the classifier (4096-4096-classes with dropout) is part of the backbone
            and its logits are the last output (use ``ClsHead``); ``-1`` leaves it out.
        num_stages: number of conv stages (1..5).
        dilations: dilation of each stage's convs.
        out_indices: stages whose outputs are returned; index 5 is the classifier. Default: (5,)
            with a classifier, else (4,).
        frozen_stages: freeze the first ``frozen_stages`` stages.
        norm_cfg: None (plain VGG) or e.g. ``dict(type='BN')`` (VGG-BN).
        act_cfg: activation after each conv.
        norm_eval: keep batch-norm statistics frozen in training mode.
        ceil_mode: ceil mode of the max-pools.
        with_last_pool: keep the last stage's max-pool.

    Before the classifier the feature map is average-pooled to 7x7 (as torchvision does), the identity
    at 224x224, so other input sizes work as well.
    """
    prefers_channels_last = True

    arch_settings: dict[int, tuple[int, ...]] = {
        11: (1, 1, 2, 2, 2),
        13: (2, 2, 2, 2, 2),
        16: (2, 2, 3, 3, 3),
        19: (2, 2, 4, 4, 4),
    }

    def __init__(self, depth: int, num_classes: int = -1, num_stages: int = 5,
                 dilations: Sequence[int] = (1, 1, 1, 1, 1), out_indices: Sequence[int] | None = None,
                 frozen_stages: int = -1, conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'), norm_eval: bool = False, ceil_mode: bool = False,
                 with_last_pool: bool = True,
                 init_cfg: dict | list[dict] | None = [
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1., layer=['_BatchNorm']),
                     dict(type='Normal', std=0.01, layer=['Linear'])]):
        super().__init__(init_cfg)
        if depth not in self.arch_settings:
            raise ConfigKeyError(f'VGG has no depth {depth}; choose one of {sorted(self.arch_settings)}.')
        if not 1 <= num_stages <= 5:
            raise ConfigError(f'VGG num_stages must be 1..5, got {num_stages}')
        if len(dilations) < num_stages:
            raise ConfigError(f'VGG needs a dilation per stage: got {tuple(dilations)} for {num_stages} stages')
        self.num_classes = num_classes
        self.stage_blocks = self.arch_settings[depth][:num_stages]
        if out_indices is None:
            out_indices = (5,) if num_classes > 0 else (num_stages - 1,)
        if max(out_indices) > num_stages or (max(out_indices) == num_stages and num_classes <= 0):
            raise ConfigError(f'VGG out_indices {tuple(out_indices)} out of range for {num_stages} stages'
                              + (' without a classifier' if num_classes <= 0 else ''))
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        layers: list[nn.Module] = []
        self.range_sub_modules: list[list[int]] = []
        in_ch, start = 3, 0
        for i, num_blocks in enumerate(self.stage_blocks):
            out_ch = 64 * 2 ** i if i < 4 else 512
            for _ in range(num_blocks):
                layers.append(ConvModule(in_ch, out_ch, 3, padding=dilations[i], dilation=dilations[i], bias=True,
                                         conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
                in_ch = out_ch
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            self.range_sub_modules.append([start, start + num_blocks + 1])
            start += num_blocks + 1
        if not with_last_pool:
            layers.pop()
            self.range_sub_modules[-1][1] -= 1
        self.features = nn.Sequential(*layers)
        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, num_classes))
            self.out_indices = tuple(sorted({*self.out_indices, num_stages}))  # the logits are always returned
        widths = [64 * 2 ** i if i < 4 else 512 for i in range(num_stages)]
        pools = [2 ** (i + 1) for i in range(num_stages)]
        if not with_last_pool:
            pools[-1] //= 2
        self.stage_channels = tuple(widths) + ((num_classes,) if num_classes > 0 else ())
        self.stage_reductions = tuple(pools) + ((None,) if num_classes > 0 else ())
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(len(self.stage_blocks)):
            for j in range(*self.range_sub_modules[i]):
                x = self.features[j](x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_classes > 0:
            outs.append(self.classifier(self.avgpool(x).flatten(1)))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            for j in range(*self.range_sub_modules[i]):
                freeze_module(self.features[j])

"""RegNet (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020): RegNetX.

A ResNeXt-style network whose per-block widths come from a quantised linear function of the block
index (``w0 + wa * j``, snapped to powers of ``wm``); blocks of equal width form a stage. The blocks
are fovea's :class:`~fovea.models.backbones.resnet.Bottleneck` with expansion 1 and grouped 3x3
convolutions of ``group_w`` channels per group; the stem is one 3x3 stride-2 conv (no max-pool).
MMPretrain's arguments and module names (``conv1``/``bn1``, ``layer1..4``), so its checkpoints load.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.resnet import _DEFAULT_INIT, Bottleneck, ResLayer, ResNet
from fovea.models.layers.conv import build_conv_layer, build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['RegNet', 'regnet_widths']


def regnet_widths(w0: int, wa: float, wm: float, depth: int, group_w: int, bot_mul: float = 1.0,
                  divisor: int = 8) -> tuple[list[int], list[int], list[int]]:
    """(stage widths, blocks per stage, group widths) of a RegNet design (the paper's Eq. 2-4).

    Block ``j`` has the continuous width ``w0 + wa * j``, quantised to ``w0 * wm ** round(log_wm(...))``
    and rounded to a multiple of ``divisor``; consecutive blocks of equal width are one stage. Each
    stage's bottleneck width ``width * bot_mul`` is then rounded to a multiple of its group width.
    """
    if not (wa >= 0 and w0 > 0 and wm > 1 and w0 % divisor == 0):
        raise ConfigError(f'RegNet arch needs wa >= 0, w0 > 0 divisible by {divisor} and wm > 1; got w0={w0}, '
                          f'wa={wa}, wm={wm}')
    cont = np.arange(depth) * wa + w0
    ks = np.round(np.log(cont / w0) / np.log(wm))
    widths = (np.round(w0 * np.power(wm, ks) / divisor) * divisor).astype(int).tolist()
    stage_widths, stage_blocks = [], []
    for w in widths:
        if stage_widths and stage_widths[-1] == w:
            stage_blocks[-1] += 1
        else:
            stage_widths.append(w)
            stage_blocks.append(1)
    bottleneck = [int(w * bot_mul) for w in stage_widths]
    groups = [min(group_w, b) for b in bottleneck]
    bottleneck = [int(round(b / g) * g) for b, g in zip(bottleneck, groups)]
    return [int(b / bot_mul) for b in bottleneck], stage_blocks, groups


@MODELS.register_module()
class RegNet(ResNet):
    """RegNetX backbone with MMPretrain's arguments.

    Args:
        arch: 'regnetx_400mf' ... 'regnetx_12gf', or a dict with ``w0``, ``wa``, ``wm``, ``group_w``,
            ``depth`` and ``bot_mul``.
        stem_channels: width of the 3x3 stride-2 stem conv (32).
        base_channels: kept for MMPretrain's signature (the stage widths come from ``arch``).
        strides / dilations: per stage (four stages).
        Other arguments as :class:`ResNet`. ``deep_stem`` is not supported (as in MMPretrain).
    """
    arch_settings = {
        'regnetx_400mf': dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=1.0),
        'regnetx_800mf': dict(w0=56, wa=35.73, wm=2.28, group_w=16, depth=16, bot_mul=1.0),
        'regnetx_1.6gf': dict(w0=80, wa=34.01, wm=2.25, group_w=24, depth=18, bot_mul=1.0),
        'regnetx_3.2gf': dict(w0=88, wa=26.31, wm=2.25, group_w=48, depth=25, bot_mul=1.0),
        'regnetx_4.0gf': dict(w0=96, wa=38.65, wm=2.43, group_w=40, depth=23, bot_mul=1.0),
        'regnetx_6.4gf': dict(w0=184, wa=60.83, wm=2.07, group_w=56, depth=17, bot_mul=1.0),
        'regnetx_8.0gf': dict(w0=80, wa=49.56, wm=2.88, group_w=120, depth=23, bot_mul=1.0),
        'regnetx_12gf': dict(w0=168, wa=73.36, wm=2.37, group_w=112, depth=19, bot_mul=1.0),
    }
    stem_reduction = 2  # one stride-2 conv, no max-pool

    def __init__(self, arch: str | dict, in_channels: int = 3, stem_channels: int = 32, base_channels: int = 32,
                 strides: Sequence[int] = (2, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3,), style: str = 'pytorch', deep_stem: bool = False,
                 avg_down: bool = False, frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True), norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True,
                 init_cfg: dict | list[dict] | None = _DEFAULT_INIT):
        BaseBackbone.__init__(self, init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'RegNet arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}, or give a dict of w0, wa, wm, '
                                  f'group_w, depth, bot_mul.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict) or not {'w0', 'wa', 'wm', 'group_w', 'depth', 'bot_mul'} <= set(arch):
            raise ConfigError(f'RegNet arch must be a name or a dict of w0, wa, wm, group_w, depth and bot_mul, '
                              f'got {arch!r}')
        if deep_stem:
            raise ConfigError('RegNet has no deep_stem (MMPretrain does not implement it either); remove it.')
        widths, blocks, groups = regnet_widths(arch['w0'], arch['wa'], arch['wm'], arch['depth'], arch['group_w'],
                                               arch['bot_mul'])
        self.num_stages = len(widths)
        if not 1 <= self.num_stages <= 4 or len(strides) != self.num_stages or len(dilations) != self.num_stages:
            raise ConfigError(f'RegNet arch {arch} gives {self.num_stages} stages; strides {tuple(strides)} and '
                              f'dilations {tuple(dilations)} need one entry per stage (at most 4)')
        self.out_indices = tuple(i % self.num_stages for i in ((out_indices,) if isinstance(out_indices, int)
                                                               else out_indices))
        self.depth, self.stage_blocks = sum(blocks), tuple(blocks)
        self.stage_widths, self.group_widths = widths, groups
        self.bottleneck_ratio = [arch['bot_mul']] * self.num_stages
        self.stem_channels, self.base_channels = stem_channels, base_channels
        self.style, self.deep_stem, self.avg_down = style, False, avg_down
        self.frozen_stages, self.conv_cfg, self.norm_cfg = frozen_stages, conv_cfg, norm_cfg
        self.norm_eval, self.zero_init_residual = norm_eval, zero_init_residual
        self.block, self.expansion = Bottleneck, 1
        self._make_stem_layer(in_channels, stem_channels)
        self.res_layers = []
        in_ch = stem_channels
        for i, (width, num_blocks, group_w) in enumerate(zip(widths, blocks, groups)):
            bottleneck = int(round(width * arch['bot_mul']))
            layer = ResLayer(Bottleneck, num_blocks, in_ch, width, expansion=1, stride=strides[i],
                             dilation=dilations[i], style=style, avg_down=avg_down, with_cp=with_cp,
                             conv_cfg=conv_cfg, norm_cfg=norm_cfg, base_channels=width,
                             groups=bottleneck // group_w, width_per_group=group_w)
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            in_ch = width
        self.feat_dim = in_ch
        self.stage_channels = tuple(widths)
        self.stage_reductions = tuple(self.stem_reduction * math.prod(strides[:i + 1]) for i in range(self.num_stages))
        self._freeze_stages()

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, 3, stride=2, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

    def stem_forward(self, x):
        return self.relu(self.norm1(self.conv1(x)))

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        raise NotImplementedError('RegNet has no layer-wise learning-rate decay grouping (nor has MMPretrain\'s)')

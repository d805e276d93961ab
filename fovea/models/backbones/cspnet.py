"""CSPNet (Wang et al., "CSPNet: A New Backbone that can Enhance Learning Capability of CNN", CVPRW 2020):
CSPDarkNet, CSPResNet and CSPResNeXt.

Each stage (an optional stride-2 conv first) expands its input with a 1x1 conv and splits it in two halves:
one half goes through the stage's blocks and a 1x1 conv, the other skips them; a 1x1 conv mixes the two.
The blocks are Darknet bottlenecks (1x1 then 3x3 conv) or fovea's ResNet/ResNeXt
:class:`~fovea.models.backbones.resnet.Bottleneck`.

MMPretrain's arguments and module names (``stem``, ``stages.<i>.downsample_conv`` / ``expand_conv`` /
``blocks`` / ``atfer_blocks_conv`` (sic) / ``final_conv``), so its checkpoints load.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.resnet import Bottleneck
from fovea.models.backbones.vision_transformer import _linspace
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['CSPDarkNet', 'CSPResNet', 'CSPResNeXt', 'CSPStage', 'DarknetBottleneck']

_LEAKY = dict(type='LeakyReLU', inplace=True)
_BN = dict(type='BN', eps=1e-5)


class DarknetBottleneck(nn.Module):
    """1x1 ConvModule to ``out / expansion`` channels, 3x3 ConvModule back; identity added when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 2, add_identity: bool = True,
                 conv_cfg: dict | None = None, drop_path_rate: float = 0., norm_cfg: dict = _BN,
                 act_cfg: dict = _LEAKY):
        super().__init__()
        hidden = int(out_channels / expansion)
        self.conv1 = ConvModule(in_channels, hidden, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(hidden, out_channels, 3, 1, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.add_identity = add_identity and in_channels == out_channels
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 1e-5 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop_path(self.conv2(self.conv1(x)))
        return out + x if self.add_identity else out


class CSPStage(nn.Module):
    """One cross-stage-partial stage (see the module docstring)."""

    def __init__(self, block_fn: type[nn.Module], in_channels: int, out_channels: int, has_downsampler: bool = True,
                 down_growth: bool = False, expand_ratio: float = 0.5, bottle_ratio: float = 2, num_blocks: int = 1,
                 block_dpr: Sequence[float] = (0.,), block_args: dict = {}, conv_cfg: dict | None = None,
                 norm_cfg: dict = _BN, act_cfg: dict = _LEAKY):
        super().__init__()
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        down = out_channels if down_growth else in_channels
        grouped = block_args.get('groups', 1) != 1      # CSPResNeXt: a grouped downsampling conv too
        self.downsample_conv = ConvModule(in_channels, down, 3, 2, 1, groups=32 if grouped else 1, act_cfg=act_cfg,
                                          **common) if has_downsampler else nn.Identity()
        expanded = int(down * expand_ratio)
        if expanded % 2:
            raise ConfigError(f'CSPStage: the {expanded} channels before the blocks must be even (they are split '
                              f'in two halves)')
        self.expand_conv = ConvModule(down, expanded, 1, act_cfg=act_cfg if block_fn is DarknetBottleneck else None,
                                      **common)
        half = expanded // 2
        self.blocks = nn.Sequential(*(
            block_fn(in_channels=half, out_channels=half, expansion=bottle_ratio, drop_path_rate=block_dpr[i],
                     act_cfg=act_cfg, **common, **block_args) for i in range(num_blocks)))
        self.atfer_blocks_conv = ConvModule(half, half, 1, act_cfg=act_cfg, **common)   # MMPretrain's spelling
        self.final_conv = ConvModule(2 * half, out_channels, 1, act_cfg=act_cfg, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.expand_conv(self.downsample_conv(x))
        xa, xb = x.chunk(2, dim=1)
        xb = self.atfer_blocks_conv(self.blocks(xb)).contiguous()
        return self.final_conv(torch.cat((xa, xb), dim=1))


class CSPNet(BaseBackbone):
    """A stem and :class:`CSPStage` s from an ``arch`` dict of per-stage values (a single value applies to every
    stage): ``block_fn``, ``in_channels``, ``out_channels``, ``num_blocks``, ``expand_ratio``, ``bottle_ratio``,
    ``has_downsampler``, ``down_growth``, ``block_args``. Subclasses give the stem and the arch table."""
    prefers_channels_last = True
    stem_reduction = 1

    def __init__(self, arch: dict, in_channels: int = 3, out_indices: int | Sequence[int] = -1,
                 frozen_stages: int = -1, drop_path_rate: float = 0., conv_cfg: dict | None = None,
                 norm_cfg: dict = _BN, act_cfg: dict = _LEAKY, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = dict(type='Kaiming', layer='Conv2d')):
        super().__init__(init_cfg)
        self.arch = self.expand_arch(arch)
        n = self.num_stages = len(self.arch['in_channels'])
        if frozen_stages not in range(-1, n):
            raise ConfigError(f'{type(self).__name__} frozen_stages must be in -1 .. {n - 1}, got {frozen_stages}')
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        if any(not -n <= i < n for i in indices):
            raise ConfigError(f'{type(self).__name__} out_indices {out_indices} are out of range: it has {n} stages')
        self.out_indices = tuple(i % n for i in indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.stem = self._make_stem_layer(in_channels)
        depths = self.arch['num_blocks']
        dpr = _linspace(drop_path_rate, sum(depths))
        self.stages = nn.Sequential(*(
            CSPStage(**{k: v[i] for k, v in self.arch.items()}, block_dpr=dpr[sum(depths[:i]):sum(depths[:i + 1])],
                     conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg) for i in range(n)))
        self.stage_channels = tuple(self.arch['out_channels'])
        reductions, r = [], self.stem_reduction
        for down in self.arch['has_downsampler']:
            r *= 2 if down else 1
            reductions.append(r)
        self.stage_reductions = tuple(reductions)
        self._freeze_stages()

    @staticmethod
    def expand_arch(arch: dict) -> dict:
        n = len(arch['in_channels'])
        out = {}
        for k, v in arch.items():
            if isinstance(v, (list, tuple)):
                if len(v) != n:
                    raise ConfigError(f'CSPNet arch: {k} has {len(v)} entries for {n} stages')
                out[k] = tuple(v)
            else:
                out[k] = (v,) * n
        out.setdefault('block_args', ({},) * n)
        return out

    def _make_stem_layer(self, in_channels: int) -> nn.Module:
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.stem)
        for i in range(self.frozen_stages + 1):   # MMPretrain's CSPNet counts stage 0 as frozen_stages=0
            freeze_module(self.stages[i])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def _check_depth(cls, depth: int) -> dict:
    if depth not in cls.arch_settings:
        raise ConfigError(f'{cls.__name__} depth must be one of {list(cls.arch_settings)}, got {depth}')
    return cls.arch_settings[depth]


@MODELS.register_module()
class CSPDarkNet(CSPNet):
    """CSPDarkNet-53 (``depth=53``): a 3x3 stride-1 stem and five stages of Darknet bottlenecks."""
    arch_settings = {53: dict(block_fn=DarknetBottleneck, in_channels=(32, 64, 128, 256, 512),
                              out_channels=(64, 128, 256, 512, 1024), num_blocks=(1, 2, 8, 8, 4),
                              expand_ratio=(2, 1, 1, 1, 1), bottle_ratio=(2, 1, 1, 1, 1), has_downsampler=True,
                              down_growth=True)}

    def __init__(self, depth: int, in_channels: int = 3, out_indices: int | Sequence[int] = (4,),
                 frozen_stages: int = -1, conv_cfg: dict | None = None, norm_cfg: dict = _BN,
                 act_cfg: dict = _LEAKY, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5),
                                                           distribution='uniform', mode='fan_in',
                                                           nonlinearity='leaky_relu')):
        super().__init__(_check_depth(type(self), depth), in_channels, out_indices, frozen_stages, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, norm_eval=norm_eval, init_cfg=init_cfg)

    def _make_stem_layer(self, in_channels: int) -> nn.Module:
        return ConvModule(in_channels, self.arch['in_channels'][0], 3, padding=1, norm_cfg=self.norm_cfg,
                          act_cfg=self.act_cfg)


@MODELS.register_module()
class CSPResNet(CSPNet):
    """CSPResNet-50 (``depth=50``): a ResNet stem (7x7 stride-2 conv and max-pool, or ``deep_stem``'s three 3x3
    convs) and four stages of ResNet bottlenecks."""
    arch_settings = {50: dict(block_fn=Bottleneck, in_channels=(64, 128, 256, 512),
                              out_channels=(128, 256, 512, 1024), num_blocks=(3, 3, 5, 2), expand_ratio=4,
                              bottle_ratio=2, has_downsampler=(False, True, True, True), down_growth=False)}
    stem_reduction = 4

    def __init__(self, depth: int, in_channels: int = 3, out_indices: int | Sequence[int] = (3,),
                 frozen_stages: int = -1, deep_stem: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict = _BN, act_cfg: dict = _LEAKY, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = dict(type='Kaiming', layer='Conv2d')):
        self.deep_stem = deep_stem
        if deep_stem:
            self.stem_reduction = 2
        super().__init__(_check_depth(type(self), depth), in_channels, out_indices, frozen_stages, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, norm_eval=norm_eval, init_cfg=init_cfg)

    def _make_stem_layer(self, in_channels: int) -> nn.Module:
        width = self.arch['in_channels'][0]
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        if self.deep_stem:
            return nn.Sequential(ConvModule(in_channels, width // 2, 3, 2, 1, **common),
                                 ConvModule(width // 2, width // 2, 3, 1, 1, **common),
                                 ConvModule(width // 2, width, 3, 1, 1, **common))
        return nn.Sequential(ConvModule(in_channels, width, 7, 2, 3, **common), nn.MaxPool2d(3, 2, 1))


@MODELS.register_module()
class CSPResNeXt(CSPResNet):
    """CSPResNeXt-50: CSPResNet's stem and ResNeXt bottlenecks (32 groups of 4 channels per 32 base channels)."""
    arch_settings = {50: dict(block_fn=Bottleneck, in_channels=(64, 256, 512, 1024),
                              out_channels=(256, 512, 1024, 2048), num_blocks=(3, 3, 5, 2),
                              expand_ratio=(4, 2, 2, 2), bottle_ratio=4, has_downsampler=(False, True, True, True),
                              down_growth=False, block_args=dict(groups=32, width_per_group=4, base_channels=32))}

"""The SPOS search spaces: searchable ShuffleNetV2 and MobileNet backbones (MMRazor's arguments).

A space is a backbone whose blocks are :class:`OneShotMutableOP` layers. ``arch_setting`` lists the
stages and, per stage, the one-shot layer config (its ``candidates``); the backbone passes each
layer ``in_channels``, ``out_channels`` and ``stride`` through ``module_kwargs``. Layer names are
MMRazor 1.x's (``backbone.layers.0.0`` for ShuffleNetV2, ``backbone.layer1.0`` for MobileNet), so its
subnet YAML files and checkpoints fit.
"""
from __future__ import annotations

import copy
from typing import Sequence

from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.mobilenet_v2 import MobileNetV2
from fovea.models.backbones.shufflenet_v1 import ShuffleNetBase
from fovea.models.layers.conv import ConvModule, make_divisible
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SearchableShuffleNetV2', 'SearchableMobileNetV2', 'SPOS_SHUFFLENET_CANDIDATES',
           'SPOS_MOBILENET_CANDIDATES']

#: the four choices of the SPOS ShuffleNetV2 space, in the paper's order (indices 0..3)
SPOS_SHUFFLENET_CANDIDATES = dict(
    shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
    shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
    shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7),
    shuffle_xception=dict(type='ShuffleXception'))

#: the seven choices of the SPOS MobileNet (ProxylessNAS-GPU) space
SPOS_MOBILENET_CANDIDATES = {
    **{f'mb_k{k}e{e}': dict(type='MBBlock', kernel_size=k, expand_ratio=e, act_cfg=dict(type='ReLU6'))
       for e in (3, 6) for k in (3, 5, 7)},
    'identity': dict(type='Identity')}
_MOBILENET_ORDER = ['mb_k3e3', 'mb_k5e3', 'mb_k7e3', 'mb_k3e6', 'mb_k5e6', 'mb_k7e6', 'identity']
SPOS_MOBILENET_CANDIDATES = {k: SPOS_MOBILENET_CANDIDATES[k] for k in _MOBILENET_ORDER}


def _mutable(candidates: dict) -> dict:
    return dict(type='OneShotMutableOP', candidates=copy.deepcopy(candidates))


def _build_layer(mutable_cfg: dict, key: str, **module_kwargs) -> nn.Module:
    if not isinstance(mutable_cfg, dict) or 'type' not in mutable_cfg:
        raise ConfigError(f'{key}: each stage of arch_setting ends with a one-shot layer config, e.g. '
                          f"dict(type='OneShotMutableOP', candidates=dict(...)); got {mutable_cfg!r}")
    cfg = copy.deepcopy(mutable_cfg)
    cfg['module_kwargs'] = {**cfg.get('module_kwargs', {}), **module_kwargs}
    return MODELS.build(cfg, key=key)


@MODELS.register_module()
class SearchableShuffleNetV2(ShuffleNetBase):
    """The SPOS ShuffleNetV2 space: 3x3 stride-2 stem to ``16 * stem_multiplier`` channels (no
    max-pool), four stages of one-shot layers (the first of each with stride 2), a 1x1 convolution
    to ``last_channels`` (``layers.4``).

    Args:
        arch_setting: ``[[channels, num_blocks, mutable_cfg], ...]``; default: the SPOS space,
            (64, 4), (160, 4), (320, 8), (640, 4) with shuffle_3x3/5x5/7x7/xception.
        widen_factor: stage channels are ``round(channels * widen_factor)`` (rounded to even).
        stem_stride: 2 (ImageNet); 1 keeps 32 px CIFAR inputs at 2x2 after the last stage.
        last_channels: width of the final 1x1 convolution (1024 in SPOS).
        out_indices: 0..3 the stages, 4 the last convolution (when ``with_last_layer``); default: the last.
    """

    default_arch = [[64, 4], [160, 4], [320, 8], [640, 4]]

    def __init__(self, arch_setting: Sequence[Sequence] | None = None, stem_multiplier: int = 1,
                 widen_factor: float = 1.0, stem_stride: int = 2, last_channels: int = 1024,
                 out_indices: Sequence[int] | None = None, frozen_stages: int = -1, with_last_layer: bool = True,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False, with_cp: bool = False, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if arch_setting is None:
            arch_setting = [[c, n, _mutable(SPOS_SHUFFLENET_CANDIDATES)] for c, n in self.default_arch]
        num_layers = len(arch_setting) + int(with_last_layer)
        out_indices = (num_layers - 1,) if out_indices is None else out_indices
        for index in out_indices:
            if index not in range(num_layers):
                raise ConfigError(f'SearchableShuffleNetV2 out_indices must be in range(0, {num_layers}), got {index}')
        if frozen_stages not in range(-1, num_layers):
            raise ConfigError(f'SearchableShuffleNetV2 frozen_stages must be in range(-1, {num_layers}), '
                              f'got {frozen_stages}')
        self.out_indices, self.frozen_stages, self.norm_eval = tuple(out_indices), frozen_stages, norm_eval
        in_channels = 16 * stem_multiplier
        self.conv1 = ConvModule(3, in_channels, 3, stride=stem_stride, padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.maxpool = nn.Identity()  # SPOS's stem has no max-pool (ShuffleNetBase.forward calls it)
        self.layers = nn.ModuleList()
        channels, reductions, reduction = [], [], stem_stride
        for i, stage in enumerate(arch_setting):
            if len(stage) != 3:
                raise ConfigError(f'arch_setting[{i}] must be [channels, num_blocks, mutable_cfg], got {stage!r}')
            width, num_blocks, mutable_cfg = stage
            out_channels = 2 * round(width * widen_factor / 2)
            blocks = []
            for j in range(num_blocks):
                blocks.append(_build_layer(mutable_cfg, f'arch_setting[{i}]', in_channels=in_channels,
                                           out_channels=out_channels, stride=2 if j == 0 else 1))
                in_channels = out_channels
            self.layers.append(nn.Sequential(*blocks))
            reduction *= 2
            channels.append(out_channels)
            reductions.append(reduction)
        if with_last_layer:
            self.layers.append(ConvModule(in_channels, last_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                          act_cfg=act_cfg))
            channels.append(last_channels)
            reductions.append(reduction)
        self.stage_channels, self.stage_reductions = tuple(channels), tuple(reductions)
        self._freeze_stages()


@MODELS.register_module()
class SearchableMobileNetV2(MobileNetV2):
    """The SPOS MobileNet space (MMRazor's SearchableMobileNetV2): 3x3 stride-2 stem to
    ``first_channels``, seven stages ``layer1`` .. ``layer7`` of one-shot layers, a 1x1 convolution
    ``conv2`` to ``last_channels``.

    Args:
        arch_setting: ``[[channels, num_blocks, stride, mutable_cfg], ...]``; default: the SPOS
            (ProxylessNAS-GPU) space, first layer mb_k3e1 only, then mb_k{3,5,7}e{3,6} and identity.
        first_channels / last_channels: 40 and 1728 in the SPOS space.
        widen_factor: channels are ``make_divisible(channels * widen_factor, 8)``; the last convolution
            widens only for ``widen_factor > 1`` (MMRazor).
        stem_stride: 2 (ImageNet); 1 for 32 px inputs.
        out_indices: 0..6 the stages, 7 the last convolution (the default).
    """

    default_arch = [[24, 1, 1], [32, 4, 2], [56, 4, 2], [112, 4, 2], [128, 4, 1], [256, 4, 2], [432, 1, 1]]

    def __init__(self, arch_setting: Sequence[Sequence] | None = None, first_channels: int = 40,
                 last_channels: int = 1728, widen_factor: float = 1.0, stem_stride: int = 2,
                 out_indices: Sequence[int] | None = None, frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU6'), norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = (dict(type='Kaiming', layer=['Conv2d']),
                                                       dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        BaseBackbone.__init__(self, list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)  # own layers
        if arch_setting is None:
            first = _mutable(dict(mb_k3e1=dict(type='MBBlock', kernel_size=3, expand_ratio=1,
                                                act_cfg=dict(type='ReLU6'))))
            arch_setting = [[c, n, s, first if i == 0 else _mutable(SPOS_MOBILENET_CANDIDATES)]
                            for i, (c, n, s) in enumerate(self.default_arch)]
        num_layers = len(arch_setting) + 1
        out_indices = (num_layers - 1,) if out_indices is None else out_indices
        for index in out_indices:
            if index not in range(num_layers):
                raise ConfigError(f'SearchableMobileNetV2 out_indices must be in range(0, {num_layers}), got {index}')
        if frozen_stages not in range(-1, num_layers):
            raise ConfigError(f'SearchableMobileNetV2 frozen_stages must be in range(-1, {num_layers}), '
                              f'got {frozen_stages}')
        self.out_indices, self.frozen_stages, self.norm_eval = tuple(out_indices), frozen_stages, norm_eval
        in_channels = make_divisible(first_channels * widen_factor, 8)
        self.conv1 = ConvModule(3, in_channels, 3, stride=stem_stride, padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers: list[str] = []
        channels, reductions, reduction = [], [], stem_stride
        for i, stage in enumerate(arch_setting):
            if len(stage) != 4:
                raise ConfigError(f'arch_setting[{i}] must be [channels, num_blocks, stride, mutable_cfg], '
                                  f'got {stage!r}')
            width, num_blocks, stride, mutable_cfg = stage
            out_channels = make_divisible(width * widen_factor, 8)
            blocks = []
            for j in range(num_blocks):
                blocks.append(_build_layer(mutable_cfg, f'arch_setting[{i}]', in_channels=in_channels,
                                           out_channels=out_channels, stride=stride if j == 0 else 1))
                in_channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{i + 1}')
            reduction *= stride
            channels.append(out_channels)
            reductions.append(reduction)
        last = int(last_channels * widen_factor) if widen_factor > 1.0 else last_channels
        self.conv2 = ConvModule(in_channels, last, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers.append('conv2')
        self.stage_channels = (*channels, last)
        self.stage_reductions = (*reductions, reduction)
        self._freeze_stages()

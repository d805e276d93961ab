"""Candidate blocks of the SPOS search spaces, with MMRazor's names and arguments.

Every op takes ``in_channels``, ``out_channels`` and ``stride`` (what the searchable backbone
passes to each layer's mutable as ``module_kwargs``) plus its own arguments from the config.
State-dict names follow MMRazor's ops (``branch1``/``branch2``, ``expand_conv``/``depthwise_conv``/
``linear_conv``, ``depthwise_conv``/``pointwise_conv``), so MMRazor checkpoints load by name.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.shufflenet_v2 import ShuffleV2Block
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['ShuffleBlock', 'ShuffleXception', 'MBBlock', 'IdentityOP', 'DepthwiseSeparableConvModule']


@MODELS.register_module()
class ShuffleBlock(ShuffleV2Block):
    """ShuffleNetV2 unit with a ``kernel_size`` x ``kernel_size`` depthwise convolution (3, 5 or 7)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 with_cp: bool = False):
        if kernel_size not in (3, 5, 7):
            raise ConfigError(f'ShuffleBlock kernel_size must be 3, 5 or 7, got {kernel_size}')
        super().__init__(in_channels, out_channels, stride, conv_cfg, norm_cfg, act_cfg, with_cp, kernel_size)


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise kxk convolution (norm, no activation) -> pointwise 1x1 (norm, activation): MMCV's
    module with ``dw_act_cfg=None``, children ``depthwise_conv`` and ``pointwise_conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU')):
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride=stride,
                                         padding=kernel_size // 2, groups=in_channels, conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=None)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


@MODELS.register_module()
class ShuffleXception(ShuffleV2Block):
    """ShuffleNetV2 unit whose transformed half goes through three depthwise-separable 3x3
    convolutions (the first with the block's stride), ShuffleNetV2+'s Xception choice."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'), with_cp: bool = False):
        super().__init__(in_channels, out_channels, stride, conv_cfg, norm_cfg, act_cfg, with_cp)
        branch = out_channels // 2
        layers = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.branch2 = nn.Sequential(
            DepthwiseSeparableConvModule(in_channels if stride > 1 else branch, branch, 3, stride, **layers),
            DepthwiseSeparableConvModule(branch, branch, 3, 1, **layers),
            DepthwiseSeparableConvModule(branch, branch, 3, 1, **layers))


@MODELS.register_module()
class MBBlock(InvertedResidual):
    """MobileNet block of the SPOS MobileNet space: expand by ``expand_ratio`` (1x1), ``kernel_size``
    depthwise, linear 1x1 projection, residual when the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, expand_ratio: int, stride: int = 1,
                 se_cfg: dict | None = None, conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), drop_path_rate: float = 0., with_cp: bool = False):
        super().__init__(in_channels, out_channels, in_channels * expand_ratio, kernel_size, stride, se_cfg,
                         conv_cfg, norm_cfg, act_cfg, drop_path_rate, with_cp)
        self.stride = stride


@MODELS.register_module(name=['IdentityOP', 'Identity'])
class IdentityOP(nn.Module):
    """Skip the layer (the MobileNet space's ``identity`` choice). Where the layer changes the channels
    or the resolution, a 1x1 convolution with ``stride`` and a norm (``downsample``) fits the shape,
    as MMRazor's ``Identity`` op does."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = dict(type='BN'), act_cfg: dict | None = None):
        super().__init__()
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = ConvModule(in_channels, out_channels, 1, stride=stride, conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)

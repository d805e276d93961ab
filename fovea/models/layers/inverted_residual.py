"""Inverted residual (MBConv) block of MobileNetV2/V3 and EfficientNet.

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018;
Howard et al., "Searching for MobileNetV3", ICCV 2019; Tan & Le, "EfficientNet", ICML 2019.
"""
from __future__ import annotations

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.layers.conv import ConvModule
from fovea.models.layers.drop import DropPath
from fovea.models.layers.se import SELayer
from fovea.utils.errors import ConfigError

__all__ = ['InvertedResidual']


class InvertedResidual(nn.Module):
    """1x1 expand -> kxk depthwise -> optional SE -> 1x1 linear projection, with a residual
    connection when the stride is 1 and the channels are unchanged.

    The expansion convolution is left out when ``mid_channels == in_channels``. Children are
    named as in MMPretrain (``expand_conv``, ``depthwise_conv``, ``se``, ``linear_conv``).

    Args:
        in_channels / out_channels: block input and output channels.
        mid_channels: channels of the depthwise convolution (the expanded width).
        kernel_size: depthwise kernel size.
        stride: depthwise stride (1 or 2).
        se_cfg: keyword arguments of :class:`SELayer`, or None for no squeeze-excitation.
        conv_cfg / norm_cfg / act_cfg: layer configs (the projection has no activation).
        drop_path_rate: stochastic depth probability of the residual branch.
        with_cp: gradient checkpointing of the block.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel_size: int = 3,
                 stride: int = 1, se_cfg: dict | None = None, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = dict(type='BN'), act_cfg: dict | None = dict(type='ReLU'),
                 drop_path_rate: float = 0., with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f'InvertedResidual stride must be 1 or 2, got {stride}')
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp = with_cp
        self.with_se = se_cfg is not None
        self.with_expand_conv = mid_channels != in_channels
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        if self.with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                          act_cfg=act_cfg)
        self.depthwise_conv = ConvModule(mid_channels, mid_channels, kernel_size, stride=stride,
                                         padding=kernel_size // 2, groups=mid_channels, conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg)
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                      act_cfg=None)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)
        return x + self.drop_path(out) if self.with_res_shortcut else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)

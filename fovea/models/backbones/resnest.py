"""ResNeSt (Zhang et al., "ResNeSt: Split-Attention Networks", CVPR 2022 workshops).

A ResNet-V1d whose bottleneck 3x3 conv is a split-attention conv: ``radix`` parallel grouped convs whose
outputs are weighted per channel by a softmax over the radix, computed from their pooled sum. With
``avg_down_stride`` a strided block average-pools after that conv instead of striding it.

MMPretrain's arguments and module names (``conv2.conv`` / ``bn0`` / ``fc1`` / ``bn1`` / ``fc2``,
``avd_layer``), so its checkpoints load; the blocks are fovea's :class:`~fovea.models.backbones.resnet.Bottleneck`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.resnet import Bottleneck, ResNetV1d
from fovea.models.layers.conv import build_conv_layer, build_norm_layer
from fovea.registry import MODELS

__all__ = ['ResNeSt', 'SplitAttentionConv2d', 'ResNeStBottleneck']


class SplitAttentionConv2d(nn.Module):
    """``radix`` x ``groups`` grouped conv -> BN -> ReLU, split into ``radix`` parts; their sum, pooled, goes
    through fc1 -> BN -> ReLU -> fc2 (1x1 grouped convs) to per-channel weights (softmax over the radix, or
    a sigmoid when ``radix`` is 1) that mix the parts."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, radix: int = 2, reduction_factor: int = 4,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        inter = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups, self.channels = radix, groups, channels
        self.conv = build_conv_layer(conv_cfg, in_channels, channels * radix, kernel_size, stride, padding, dilation,
                                     groups * radix, bias=False)
        self.norm0_name, norm0 = build_norm_layer(norm_cfg, channels * radix, postfix=0)
        self.add_module(self.norm0_name, norm0)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, inter, 1, groups=groups)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, inter, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.fc2 = nn.Conv2d(inter, channels * radix, 1, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(getattr(self, self.norm0_name)(self.conv(x)))
        b = x.shape[0]
        splits = x.view(b, self.radix, -1, *x.shape[2:]) if self.radix > 1 else None
        gap = F.adaptive_avg_pool2d(splits.sum(1) if splits is not None else x, 1)
        atten = self.fc2(self.relu(getattr(self, self.norm1_name)(self.fc1(gap))))
        if splits is None:
            return torch.sigmoid(atten) * x
        atten = atten.view(b, self.groups, self.radix, -1).transpose(1, 2).softmax(1)   # softmax over the radix
        return (atten.reshape(b, self.radix, -1, 1, 1) * splits).sum(1).contiguous()


class ResNeStBottleneck(Bottleneck):
    """:class:`Bottleneck` with a :class:`SplitAttentionConv2d` as its 3x3 conv (no ``bn2``: the split
    attention normalises inside) and, with ``avg_down_stride``, a 3x3 stride-s average pool after it."""

    def __init__(self, in_channels: int, out_channels: int, radix: int = 2, reduction_factor: int = 4,
                 avg_down_stride: bool = True, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        conv2_stride = self.stride if self.style == 'pytorch' else 1
        self.avg_down_stride = avg_down_stride and conv2_stride > 1
        self.conv2 = SplitAttentionConv2d(self.mid_channels, self.mid_channels, 3,
                                          1 if self.avg_down_stride else conv2_stride, self.dilation, self.dilation,
                                          kwargs.get('groups', 1), radix, reduction_factor, kwargs.get('conv_cfg'),
                                          kwargs.get('norm_cfg', dict(type='BN')))
        delattr(self, self.norm_names[1])
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, conv2_stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def residual(t: torch.Tensor) -> torch.Tensor:
            out = self.conv2(self.relu(self.norm1(self.conv1(t))))
            if self.avg_down_stride:
                out = self.avd_layer(out)
            return self.norm3(self.conv3(out))
        return self._finish(x, residual)


@MODELS.register_module()
class ResNeSt(ResNetV1d):
    """ResNeSt backbone: :class:`~fovea.models.backbones.resnet.ResNetV1d` arguments and

    Args:
        depth: 50, 101, 152, 200 or 269.
        groups / width_per_group: cardinality of the split-attention conv (1 in the published models).
        radix: parallel paths per group (2); reduction_factor: of the attention's hidden width (4).
        avg_down_stride: in strided blocks, stride by average pooling after the split-attention conv.
    """
    arch_settings = {
        50: (ResNeStBottleneck, (3, 4, 6, 3)),
        101: (ResNeStBottleneck, (3, 4, 23, 3)),
        152: (ResNeStBottleneck, (3, 8, 36, 3)),
        200: (ResNeStBottleneck, (3, 24, 36, 3)),
        269: (ResNeStBottleneck, (3, 30, 48, 8)),
    }

    def __init__(self, depth: int, groups: int = 1, width_per_group: int = 4, radix: int = 2,
                 reduction_factor: int = 4, avg_down_stride: bool = True, **kwargs):
        self.groups, self.width_per_group = groups, width_per_group
        self.radix, self.reduction_factor, self.avg_down_stride = radix, reduction_factor, avg_down_stride
        super().__init__(depth=depth, **kwargs)

    def _block_kwargs(self) -> dict:
        return dict(groups=self.groups, width_per_group=self.width_per_group, base_channels=self.base_channels,
                    radix=self.radix, reduction_factor=self.reduction_factor, avg_down_stride=self.avg_down_stride)

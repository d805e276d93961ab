"""ShuffleNetV2 (Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
ECCV 2018)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.shufflenet_v1 import ShuffleNetBase
from fovea.models.layers.channel_shuffle import channel_shuffle
from fovea.models.layers.conv import ConvModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['ShuffleNetV2', 'ShuffleV2Block']


class ShuffleV2Block(nn.Module):
    """ShuffleNetV2 unit. Stride 1: split the channels in half, transform one half
    (1x1 -> 3x3 depthwise -> 1x1), concatenate, shuffle. Stride 2: both halves see the whole input
    (``branch1``: depthwise 3x3 -> 1x1; ``branch2`` as above), doubling the channels.
    ``kernel_size`` sets both depthwise kernels (3 in ShuffleNetV2; SPOS searches 3, 5 and 7).

    (MMPretrain calls this class ``InvertedResidual`` in its shufflenet_v2 module; the state-dict
    names, ``branch1``/``branch2``, are the same.)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'), with_cp: bool = False,
                 kernel_size: int = 3):
        super().__init__()
        self.stride = stride
        self.with_cp = with_cp
        branch = out_channels // 2
        if stride == 1 and in_channels != branch * 2:
            raise ConfigError(f'ShuffleV2Block with stride 1 needs in_channels ({in_channels}) == out_channels '
                             f'({out_channels})')
        if stride > 1:
            self.branch1 = nn.Sequential(
                ConvModule(in_channels, in_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                           groups=in_channels,
                           conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
                ConvModule(in_channels, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.branch2 = nn.Sequential(
            ConvModule(in_channels if stride > 1 else branch, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(branch, branch, kernel_size, stride=stride, padding=kernel_size // 2, groups=branch,
                       conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
            ConvModule(branch, branch, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            import torch.utils.checkpoint as cp
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


#: MMPretrain's name for the block (importable from this module, as in MMPretrain)
InvertedResidual = ShuffleV2Block


@MODELS.register_module()
class ShuffleNetV2(ShuffleNetBase):
    """ShuffleNetV2 backbone with MMPretrain's arguments: 3x3 stride-2 stem and max-pool, three stages
    of 4, 8 and 4 units (``layers.0`` .. ``layers.2``) and a 1x1 convolution (``layers.3``).

    Args:
        widen_factor: 0.5, 1.0, 1.5 or 2.0 (the paper's 0.5x .. 2x).
        out_indices: outputs to return (0..3; 3 is the final 1x1 convolution).
        frozen_stages: freeze the stem and the first ``frozen_stages`` layers (-1: none).
        conv_cfg / norm_cfg / act_cfg, norm_eval, with_cp: as usual.
    """

    #: widen_factor -> channels of the three stages and of the last convolution
    arch_settings = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
                     2.0: (244, 488, 976, 2048)}
    stage_blocks = (4, 8, 4)

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (3,), frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 norm_eval: bool = False, with_cp: bool = False, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if widen_factor not in self.arch_settings:
            raise ValueError(f'ShuffleNetV2 widen_factor must be one of {sorted(self.arch_settings)}, '
                             f'got {widen_factor}')
        for index in out_indices:
            if index not in range(4):
                raise ValueError(f'ShuffleNetV2 out_indices must be in range(0, 4), got {index}')
        if frozen_stages not in range(-1, 4):
            raise ValueError(f'ShuffleNetV2 frozen_stages must be in range(-1, 4), got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        channels = self.arch_settings[widen_factor]
        in_channels = 24
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        for i, num_blocks in enumerate(self.stage_blocks):
            blocks = []
            for j in range(num_blocks):
                blocks.append(ShuffleV2Block(in_channels, channels[i], stride=2 if j == 0 else 1, conv_cfg=conv_cfg,
                                             norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp))
                in_channels = channels[i]
            self.layers.append(nn.Sequential(*blocks))
        self.layers.append(ConvModule(in_channels, channels[-1], 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg))
        self.stage_channels = (*channels[:len(self.stage_blocks)], channels[-1])
        self.stage_reductions = (8, 16, 32, 32)  # stem /4, the first block of each stage /2, the 1x1 conv
        self._freeze_stages()

"""ShuffleNetV1 (Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for
Mobile Devices", CVPR 2018)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.channel_shuffle import channel_shuffle
from fovea.models.layers.conv import ConvModule, build_activation_layer, make_divisible
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['ShuffleNetV1', 'ShuffleUnit']


class ShuffleUnit(nn.Module):
    """Grouped 1x1 compress -> channel shuffle -> 3x3 depthwise -> grouped 1x1 expand.

    ``combine='add'``: stride 1, identity shortcut added. ``combine='concat'``: stride 2, the
    shortcut is a 3x3 average pool concatenated with the branch (which then produces
    ``out_channels - in_channels`` maps). The first unit of the network uses an ungrouped compress
    convolution (its input has only 24 channels).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 3, first_block: bool = True,
                 combine: str = 'add', conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), with_cp: bool = False):
        super().__init__()
        self.groups = groups
        self.combine = combine
        self.with_cp = with_cp
        bottleneck_channels = out_channels // 4
        if combine == 'add':
            if in_channels != out_channels:
                raise ConfigError(f"ShuffleUnit with combine='add' needs in_channels == out_channels, "
                                 f'got {in_channels} and {out_channels}')
            stride = 1
        elif combine == 'concat':
            stride = 2
            out_channels -= in_channels
            self.avgpool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        else:
            raise ConfigError(f"ShuffleUnit combine must be 'add' or 'concat', got {combine!r}")
        self.g_conv_1x1_compress = ConvModule(in_channels, bottleneck_channels, 1,
                                              groups=1 if first_block else groups, conv_cfg=conv_cfg,
                                              norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.depthwise_conv3x3_bn = ConvModule(bottleneck_channels, bottleneck_channels, 3, stride=stride,
                                               padding=1, groups=bottleneck_channels, conv_cfg=conv_cfg,
                                               norm_cfg=norm_cfg, act_cfg=None)
        self.g_conv_1x1_expand = ConvModule(bottleneck_channels, out_channels, 1, groups=groups,
                                            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.act = build_activation_layer(act_cfg)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.g_conv_1x1_compress(x)
        out = self.depthwise_conv3x3_bn(out)
        if self.groups > 1:
            out = channel_shuffle(out, self.groups)
        out = self.g_conv_1x1_expand(out)
        if self.combine == 'concat':
            return torch.cat((self.avgpool(x), self.act(out)), 1)
        return self.act(x + out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            import torch.utils.checkpoint as cp
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


class ShuffleNetBase(BaseBackbone):
    """What ShuffleNetV1 and V2 share: stem + stages in ``self.layers``, ``out_indices``, freezing,
    ``norm_eval`` and the initialisation of the papers' code."""
    prefers_channels_last = True

    def init_weights(self) -> None:
        """MMPretrain's initialisation: N(0, 0.01) stem, N(0, 1/fan_in_per_group) convs, BN (1, 1e-4)."""
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        _shufflenet_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.conv1(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for p in self.conv1.parameters():
                p.requires_grad = False
        for i in range(self.frozen_stages):
            freeze_module(self.layers[i])


@MODELS.register_module()
class ShuffleNetV1(ShuffleNetBase):
    """ShuffleNetV1 backbone with MMPretrain's arguments: a 3x3 stride-2 stem and max-pool, then
    three stages of 4, 8 and 4 shuffle units (``layers.0`` .. ``layers.2``).

    Args:
        groups: groups of the 1x1 convolutions: 1, 2, 3, 4 or 8 (the stage widths follow the paper).
        widen_factor: width multiplier (0.5x, 1x, 1.5x, 2x in the paper).
        out_indices: stages to return (0..2).
        frozen_stages: freeze the stem and the first ``frozen_stages`` stages (-1: none).
        conv_cfg / norm_cfg / act_cfg, norm_eval, with_cp: as usual.
    """

    #: groups -> output channels of the three stages at width 1x
    arch_settings = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960), 4: (272, 544, 1088),
                     8: (384, 768, 1536)}
    stage_blocks = (4, 8, 4)

    def __init__(self, groups: int = 3, widen_factor: float = 1.0, out_indices: Sequence[int] = (2,),
                 frozen_stages: int = -1, conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if groups not in self.arch_settings:
            raise ValueError(f'ShuffleNetV1 groups must be one of {sorted(self.arch_settings)}, got {groups}')
        for index in out_indices:
            if index not in range(3):
                raise ValueError(f'ShuffleNetV1 out_indices must be in range(0, 3), got {index}')
        if frozen_stages not in range(-1, 3):
            raise ValueError(f'ShuffleNetV1 frozen_stages must be in range(-1, 3), got {frozen_stages}')
        self.groups = groups
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        channels = [make_divisible(c * widen_factor, 8) for c in self.arch_settings[groups]]
        in_channels = int(24 * widen_factor)
        self.conv1 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        for i, num_blocks in enumerate(self.stage_blocks):
            units = []
            for j in range(num_blocks):
                units.append(ShuffleUnit(in_channels, channels[i], groups=groups, first_block=i == 0 and j == 0,
                                         combine='concat' if j == 0 else 'add', conv_cfg=conv_cfg,
                                         norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp))
                in_channels = channels[i]
            self.layers.append(nn.Sequential(*units))
        self.stage_channels = tuple(channels[:len(self.stage_blocks)])
        self.stage_reductions = (8, 16, 32)  # stem /4, then the first unit of each stage /2
        self._freeze_stages()

def _shufflenet_init(model: nn.Module) -> None:
    """The initialisation of the ShuffleNet papers' code (shared by V1 and V2)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            std = 0.01 if 'conv1' in name else 1.0 / m.weight.shape[1]
            nn.init.normal_(m.weight, 0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 1e-4)
            if isinstance(m, _BatchNorm) and m.running_mean is not None:
                nn.init.zeros_(m.running_mean)

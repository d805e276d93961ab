"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", ICCV 2019)."""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['MobileNetV3']


@MODELS.register_module()
class MobileNetV3(BaseBackbone):
    """MobileNetV3-Small / -Large backbone, with MMPretrain's arguments and module names.

    ``layer0`` is the 3x3 stride-2 hard-swish stem, ``layer1`` .. ``layerN`` the inverted residual
    blocks of the searched architecture (some with squeeze-excitation gated by a hard sigmoid), and
    ``layer{N+1}`` the final 1x1 convolution to 576 (small) or 960 (large) channels. The classifier
    (1280-wide hidden layer) is the head's job (``StackedLinearClsHead``).

    Args:
        arch: 'small', 'large', 'small_075' or 'small_050'.
        conv_cfg / norm_cfg: layer configs (BN with eps 1e-3 and momentum 0.01, as the paper trains).
        out_indices: layers to return (default: the last one).
        frozen_stages: freeze ``layer0`` .. ``layer{frozen_stages}`` (-1: none).
        norm_eval: keep batch norms in eval mode while training.
        with_cp: gradient checkpointing inside the blocks.
    """
    prefers_channels_last = True

    #: kernel size, mid channels, out channels, with SE, activation, stride of each block
    arch_settings = {
        'small': [[3, 16, 16, True, 'ReLU', 2], [3, 72, 24, False, 'ReLU', 2], [3, 88, 24, False, 'ReLU', 1],
                  [5, 96, 40, True, 'HSwish', 2], [5, 240, 40, True, 'HSwish', 1],
                  [5, 240, 40, True, 'HSwish', 1], [5, 120, 48, True, 'HSwish', 1],
                  [5, 144, 48, True, 'HSwish', 1], [5, 288, 96, True, 'HSwish', 2],
                  [5, 576, 96, True, 'HSwish', 1], [5, 576, 96, True, 'HSwish', 1]],
        'small_075': [[3, 16, 16, True, 'ReLU', 2], [3, 72, 24, False, 'ReLU', 2], [3, 88, 24, False, 'ReLU', 1],
                      [5, 96, 32, True, 'HSwish', 2], [5, 192, 32, True, 'HSwish', 1],
                      [5, 192, 32, True, 'HSwish', 1], [5, 96, 40, True, 'HSwish', 1],
                      [5, 120, 40, True, 'HSwish', 1], [5, 240, 72, True, 'HSwish', 2],
                      [5, 432, 72, True, 'HSwish', 1], [5, 432, 72, True, 'HSwish', 1]],
        'small_050': [[3, 16, 8, True, 'ReLU', 2], [3, 40, 16, False, 'ReLU', 2], [3, 56, 16, False, 'ReLU', 1],
                      [5, 64, 24, True, 'HSwish', 2], [5, 144, 24, True, 'HSwish', 1],
                      [5, 144, 24, True, 'HSwish', 1], [5, 72, 24, True, 'HSwish', 1],
                      [5, 72, 24, True, 'HSwish', 1], [5, 144, 48, True, 'HSwish', 2],
                      [5, 288, 48, True, 'HSwish', 1], [5, 288, 48, True, 'HSwish', 1]],
        'large': [[3, 16, 16, False, 'ReLU', 1], [3, 64, 24, False, 'ReLU', 2], [3, 72, 24, False, 'ReLU', 1],
                  [5, 72, 40, True, 'ReLU', 2], [5, 120, 40, True, 'ReLU', 1], [5, 120, 40, True, 'ReLU', 1],
                  [3, 240, 80, False, 'HSwish', 2], [3, 200, 80, False, 'HSwish', 1],
                  [3, 184, 80, False, 'HSwish', 1], [3, 184, 80, False, 'HSwish', 1],
                  [3, 480, 112, True, 'HSwish', 1], [3, 672, 112, True, 'HSwish', 1],
                  [5, 672, 160, True, 'HSwish', 2], [5, 960, 160, True, 'HSwish', 1],
                  [5, 960, 160, True, 'HSwish', 1]],
    }

    def __init__(self, arch: str = 'small', conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN', eps=0.001, momentum=0.01), out_indices: Sequence[int] | None = None,
                 frozen_stages: int = -1, norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = [
                     dict(type='Kaiming', layer=['Conv2d'], nonlinearity='leaky_relu'),
                     dict(type='Normal', layer=['Linear'], std=0.01),
                     dict(type='Constant', layer=['BatchNorm2d'], val=1)]):
        super().__init__(init_cfg)
        if arch not in self.arch_settings:
            raise ConfigError(f'MobileNetV3 arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                              f'Choose one of {", ".join(self.arch_settings)}.')
        settings = self.arch_settings[arch]
        num_layers = len(settings) + 2
        if out_indices is None:
            out_indices = (num_layers - 1,)
        for index in out_indices:
            if index not in range(num_layers):
                raise ValueError(f'MobileNetV3 out_indices must be in range(0, {num_layers}), got {index}')
        if frozen_stages not in range(-1, num_layers):
            raise ValueError(f'MobileNetV3 frozen_stages must be in range(-1, {num_layers}), got {frozen_stages}')
        self.arch = arch
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        in_channels = 16
        self.layer0 = ConvModule(3, in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='HSwish'))
        self.layers = ['layer0']
        widths, reductions = [in_channels], [2]
        for i, (kernel_size, mid_channels, out_channels, with_se, act, stride) in enumerate(settings):
            se_cfg = dict(channels=mid_channels, ratio=4,
                          act_cfg=(dict(type='ReLU'), dict(type='HSigmoid'))) if with_se else None
            block = InvertedResidual(in_channels, out_channels, mid_channels, kernel_size=kernel_size,
                                     stride=stride, se_cfg=se_cfg, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                     act_cfg=dict(type=act), with_cp=with_cp)
            self.add_module(f'layer{i + 1}', block)
            self.layers.append(f'layer{i + 1}')
            in_channels = out_channels
            widths.append(out_channels)
            reductions.append(reductions[-1] * stride)
        last = f'layer{len(settings) + 1}'
        self.add_module(last, ConvModule(in_channels, settings[-1][1], 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                         act_cfg=dict(type='HSwish')))
        self.layers.append(last)
        self.feat_dim = settings[-1][1]
        self.stage_channels = (*widths, self.feat_dim)
        self.stage_reductions = (*reductions, reductions[-1])
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            freeze_module(getattr(self, f'layer{i}'))

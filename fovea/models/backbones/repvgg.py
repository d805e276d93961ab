"""RepVGG (Ding et al., "RepVGG: Making VGG-style ConvNets Great Again", CVPR 2021)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule, build_activation_layer, build_conv_layer, build_norm_layer
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.reparam import check_batch_norm, conv_bn, fuse_conv_bn, fused_conv, identity_kernel, pad_kernel
from fovea.models.layers.se import SELayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigKeyError, ConfigTypeError, did_you_mean

__all__ = ['RepVGG', 'RepVGGBlock', 'MTSPPF']


class RepVGGBlock(nn.Module):
    """Training form: 3x3 conv-BN + 1x1 conv-BN + identity BN (when shapes allow), summed, then ReLU.
    :meth:`switch_to_deploy` folds the three branches into one 3x3 convolution with bias
    (``branch_reparam``), which computes the same function in eval mode.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, padding: int = 1,
                 dilation: int = 1, groups: int = 1, se_cfg: dict | None = None, with_cp: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 deploy: bool = False):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.with_cp = with_cp
        self.deploy = deploy
        if deploy:
            self.branch_reparam = build_conv_layer(conv_cfg, in_channels, out_channels, 3, stride, padding,
                                                   dilation, groups, bias=True)
        else:
            if in_channels == out_channels and stride == 1 and padding == dilation:
                self.branch_norm = build_norm_layer(norm_cfg, in_channels)[1]
            else:
                self.branch_norm = None
            self.branch_3x3 = self._conv_bn(3, dilation=dilation, padding=padding)
            self.branch_1x1 = self._conv_bn(1)
        self.se_layer = SELayer(channels=out_channels, **se_cfg) if se_cfg is not None else None
        self.act = build_activation_layer(act_cfg)

    def _conv_bn(self, kernel_size: int, dilation: int = 1, padding: int = 0) -> nn.Sequential:
        return conv_bn(self.in_channels, self.out_channels, kernel_size, self.stride, padding, dilation, self.groups,
                       self.conv_cfg, self.norm_cfg)

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            out = self.branch_reparam(x)
        else:
            out = self.branch_3x3(x) + self.branch_1x1(x)
            if self.branch_norm is not None:
                out = out + self.branch_norm(x)
        if self.se_layer is not None:
            out = self.se_layer(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            import torch.utils.checkpoint as cp
            out = cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        else:
            out = self._inner_forward(x)
        return self.act(out)

    @torch.no_grad()
    def reparameterize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel and bias of the single 3x3 convolution equal to the three branches (eval mode)."""
        w3, b3 = fuse_conv_bn(self.branch_3x3.conv.weight, self.branch_3x3.norm)
        w1, b1 = fuse_conv_bn(self.branch_1x1.conv.weight, self.branch_1x1.norm)
        weight, bias = w3 + pad_kernel(w1, 3), b3 + b1
        if self.branch_norm is not None:
            wn, bn = fuse_conv_bn(identity_kernel(self.in_channels, self.groups, 3, w3), self.branch_norm)
            weight, bias = weight + wn, bias + bn
        return weight, bias

    def switch_to_deploy(self) -> None:
        """Replace the training branches by their equivalent single 3x3 convolution, in place."""
        if self.deploy:
            return
        check_batch_norm(self.norm_cfg, 'RepVGG')
        weight, bias = self.reparameterize()
        self.branch_reparam = fused_conv(self.branch_3x3.conv, weight, bias, self.conv_cfg)
        del self.branch_3x3, self.branch_1x1, self.branch_norm
        self.deploy = True


_GROUPWISE_LAYERS = (2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26)
_G2 = {layer: 2 for layer in _GROUPWISE_LAYERS}
_G4 = {layer: 4 for layer in _GROUPWISE_LAYERS}


def _arch(num_blocks: list[int], width_factor: list[float], group_layer_map: dict | None = None,
          se_cfg: dict | None = None, **extra) -> dict:
    return dict(num_blocks=num_blocks, width_factor=width_factor, group_layer_map=group_layer_map,
                se_cfg=se_cfg, **extra)


class MTSPPF(nn.Module):
    """YOLOX-PAI's pooling block (``add_ppf``): a 1x1 conv to half the channels, three chained
    stride-1 max-pools, the four maps concatenated and a 1x1 conv to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), kernel_size: int = 5):
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = ConvModule(hidden * 4, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        y1 = self.maxpool(x)
        y2 = self.maxpool(y1)
        return self.conv2(torch.cat([x, y1, y2, self.maxpool(y2)], 1))


@MODELS.register_module()
class RepVGG(BaseBackbone):
    """RepVGG backbone with MMPretrain's arguments and module names: a RepVGG block stem
    (``stem``) and four stages (``stage_1`` .. ``stage_4``) of RepVGG blocks, the first block of each
    with stride 2. 'gN' variants use N groups in every second block (layers 2, 4, ..., 26).

    Build with ``deploy=True`` for the inference form, or call :meth:`switch_to_deploy` on a
    trained model: both have one 3x3 convolution per block and fewer parameters.

    Args:
        arch: 'A0', 'A1', 'A2', 'B0', 'B1', 'B1g2', 'B1g4', 'B2', 'B2g2', 'B2g4', 'B3', 'B3g2', 'B3g4',
            'D2se', or a dict with ``num_blocks``, ``width_factor``, ``group_layer_map``, ``se_cfg``.
        in_channels / base_channels: input channels; widths are ``base_channels * 2**i * width_factor[i]``.
        out_indices, strides, dilations: per stage.
        frozen_stages: freeze the stem and the first ``frozen_stages`` stages (-1: none).
        deploy: build the re-parameterised form directly.
        add_ppf: apply :class:`MTSPPF` to the last stage's output (YOLOX-PAI's RepVGG).
        conv_cfg / norm_cfg / act_cfg, norm_eval, with_cp: as usual.
    """
    prefers_channels_last = True

    arch_settings = {
        'A0': _arch([2, 4, 14, 1], [0.75, 0.75, 0.75, 2.5]),
        'A1': _arch([2, 4, 14, 1], [1, 1, 1, 2.5]),
        'A2': _arch([2, 4, 14, 1], [1.5, 1.5, 1.5, 2.75]),
        'B0': _arch([4, 6, 16, 1], [1, 1, 1, 2.5], stem_channels=64),
        'B1': _arch([4, 6, 16, 1], [2, 2, 2, 4]),
        'B1g2': _arch([4, 6, 16, 1], [2, 2, 2, 4], _G2),
        'B1g4': _arch([4, 6, 16, 1], [2, 2, 2, 4], _G4),
        'B2': _arch([4, 6, 16, 1], [2.5, 2.5, 2.5, 5]),
        'B2g2': _arch([4, 6, 16, 1], [2.5, 2.5, 2.5, 5], _G2),
        'B2g4': _arch([4, 6, 16, 1], [2.5, 2.5, 2.5, 5], _G4),
        'B3': _arch([4, 6, 16, 1], [3, 3, 3, 5]),
        'B3g2': _arch([4, 6, 16, 1], [3, 3, 3, 5], _G2),
        'B3g4': _arch([4, 6, 16, 1], [3, 3, 3, 5], _G4),
        'D2se': _arch([8, 14, 24, 1], [2.5, 2.5, 2.5, 5], se_cfg=dict(ratio=16, divisor=1)),
    }

    def __init__(self, arch: str | dict, in_channels: int = 3, base_channels: int = 64,
                 out_indices: Sequence[int] = (3,), strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'), with_cp: bool = False,
                 deploy: bool = False, norm_eval: bool = False, add_ppf: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                       dict(type='Constant', val=1,
                                                            layer=['_BatchNorm', 'GroupNorm'])]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'RepVGG arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict):  # MMPretrain raises TypeError here (a list is not an arch)
            raise ConfigTypeError('RepVGG arch must be a name or a dict with num_blocks and width_factor, '
                                  f'got the {type(arch).__name__} {arch!r}')
        elif not {'num_blocks', 'width_factor'} <= set(arch):
            raise ConfigKeyError(f'RepVGG arch dict needs num_blocks and width_factor, got keys {sorted(arch)}')
        arch = {'group_layer_map': None, 'se_cfg': None, **arch}
        if not len(arch['num_blocks']) == len(arch['width_factor']) == len(strides) == len(dilations):
            raise ConfigError('RepVGG: num_blocks, width_factor, strides and dilations need the same length')
        if max(out_indices) >= len(arch['num_blocks']):
            raise ConfigError(f'RepVGG out_indices {tuple(out_indices)} exceed the {len(arch["num_blocks"])} stages')
        self.arch = arch
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy
        common = dict(se_cfg=arch['se_cfg'], with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                      act_cfg=act_cfg, deploy=deploy)
        channels = min(arch.get('stem_channels', 64), int(base_channels * arch['width_factor'][0]))
        self.stem = RepVGGBlock(in_channels, channels, stride=2, **common)
        groups_of = arch['group_layer_map'] or {}
        block_idx = 1
        self.stages: list[str] = []
        for i, num_blocks in enumerate(arch['num_blocks']):
            out_channels = int(base_channels * 2 ** i * arch['width_factor'][i])
            blocks = []
            for j in range(num_blocks):
                blocks.append(RepVGGBlock(channels, out_channels, stride=strides[i] if j == 0 else 1,
                                          padding=dilations[i], dilation=dilations[i],
                                          groups=groups_of.get(block_idx, 1), **common))
                channels = out_channels
                block_idx += 1
            self.add_module(f'stage_{i + 1}', nn.Sequential(*blocks))
            self.stages.append(f'stage_{i + 1}')
        # YOLOX-PAI's variant pools the last stage's output at three scales
        self.ppf = MTSPPF(channels, channels, norm_cfg=norm_cfg, act_cfg=act_cfg) if add_ppf else nn.Identity()
        self.stage_channels = tuple(int(base_channels * 2 ** i * w) for i, w in enumerate(arch['width_factor']))
        self.stage_reductions = tuple(2 * math.prod(strides[:i + 1]) for i in range(len(strides)))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, name in enumerate(self.stages):
            x = getattr(self, name)(x)
            if i == len(self.stages) - 1:
                x = self.ppf(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.stem)
        for i in range(self.frozen_stages):
            freeze_module(getattr(self, f'stage_{i + 1}'))

    def switch_to_deploy(self) -> None:
        """Fold every block into a single 3x3 convolution (see :class:`RepVGGBlock`)."""
        for m in self.modules():
            if isinstance(m, RepVGGBlock):
                m.switch_to_deploy()
        self.deploy = True

"""MobileOne (Vasu et al., "MobileOne: An Improved One millisecond Mobile Backbone", CVPR 2023).

A MobileNet-style network (a depthwise 3x3 block then a pointwise 1x1 block, repeated) whose every
block trains as several parallel conv-BN branches, a 1x1 "scale" branch and a BN identity, and folds
into one convolution for inference (:meth:`MobileOne.switch_to_deploy`, ``fovea reparameterize``,
``deploy=True``). MMPretrain's arguments and module names (``stage0``, ``stage1..4``,
``branch_conv_list`` / ``branch_scale`` / ``branch_norm``, deploy form ``branch_reparam``), so its
training-form and deploy-form checkpoints both load.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_conv_layer, build_norm_layer
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.reparam import check_batch_norm, conv_bn, fuse_conv_bn, fused_conv, identity_kernel, pad_kernel
from fovea.models.layers.se import SELayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigTypeError, did_you_mean

__all__ = ['MobileOne', 'MobileOneBlock']


class MobileOneBlock(nn.Module):
    """``num_convs`` conv-BN branches of ``kernel_size``, a 1x1 conv-BN (``branch_scale``, when the kernel is
    larger than 1) and a BN identity (``branch_norm``, when the shapes allow), summed, then SE and activation.
    ``deploy=True`` (or :meth:`switch_to_deploy`) holds the single equivalent conv, ``branch_reparam``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_convs: int, stride: int = 1,
                 padding: int = 1, dilation: int = 1, groups: int = 1, se_cfg: dict | None = None,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 deploy: bool = False):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.deploy = deploy
        self.se = SELayer(channels=out_channels, **se_cfg) if se_cfg is not None else nn.Identity()
        if deploy:
            self.branch_reparam = build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride, padding,
                                                   dilation, groups, bias=True)
        else:
            same = in_channels == out_channels and stride == 1
            self.branch_norm = build_norm_layer(norm_cfg, in_channels)[1] if same else None
            self.branch_scale = self._conv_bn(1, 0, 1) if kernel_size > 1 else None
            self.branch_conv_list = nn.ModuleList(self._conv_bn(kernel_size, padding, dilation)
                                                  for _ in range(num_convs))
        self.act = build_activation_layer(act_cfg)

    def _conv_bn(self, kernel_size: int, padding: int, dilation: int) -> nn.Sequential:
        return conv_bn(self.in_channels, self.out_channels, kernel_size, self.stride, padding, dilation, self.groups,
                       self.conv_cfg, self.norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            out = self.branch_reparam(x)
        else:
            out = sum(branch(x) for branch in self.branch_conv_list)
            if self.branch_scale is not None:
                out = out + self.branch_scale(x)
            if self.branch_norm is not None:
                out = out + self.branch_norm(x)
        return self.act(self.se(out))

    @torch.no_grad()
    def reparameterize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the one convolution equal to all branches (BN in eval mode)."""
        fused = [fuse_conv_bn(b.conv.weight, b.norm) for b in self.branch_conv_list]
        if self.branch_scale is not None:
            w, b = fuse_conv_bn(self.branch_scale.conv.weight, self.branch_scale.norm)
            fused.append((pad_kernel(w, self.kernel_size), b))
        if self.branch_norm is not None:
            like = self.branch_conv_list[0].conv.weight
            fused.append(fuse_conv_bn(identity_kernel(self.in_channels, self.groups, self.kernel_size, like),
                                      self.branch_norm))
        return sum(w for w, _ in fused), sum(b for _, b in fused)

    def switch_to_deploy(self) -> None:
        """Replace the branches by ``branch_reparam``, in place."""
        if self.deploy:
            return
        check_batch_norm(self.norm_cfg, 'MobileOne')
        weight, bias = self.reparameterize()
        self.branch_reparam = fused_conv(self.branch_conv_list[0].conv, weight, bias, self.conv_cfg)
        del self.branch_conv_list, self.branch_scale, self.branch_norm
        self.deploy = True


def _arch(width_factor: list[float], num_conv_branches: int = 1, num_se_blocks: list[int] = [0, 0, 0, 0]) -> dict:
    return dict(num_blocks=[2, 8, 10, 1], width_factor=width_factor, num_conv_branches=[num_conv_branches] * 4,
                num_se_blocks=list(num_se_blocks))


@MODELS.register_module()
class MobileOne(BaseBackbone):
    """MobileOne backbone with MMPretrain's arguments.

    Args:
        arch: 's0' ... 's4', or a dict of four-entry lists ``num_blocks``, ``width_factor``,
            ``num_conv_branches`` and ``num_se_blocks`` (the last ``n`` blocks of a stage get SE).
        in_channels: input channels.
        out_indices: stages to return (0-3; negative counts from the end).
        frozen_stages: freeze ``stage0`` and the first ``frozen_stages`` stages (-1: none).
        se_cfg: the SE layers' arguments (``ratio=16``).
        deploy: build the re-parameterised form (one conv per block) directly.
        conv_cfg / norm_cfg / act_cfg, norm_eval: as usual.
    """
    prefers_channels_last = True
    base_channels = (64, 128, 256, 512)
    arch_settings = {
        's0': _arch([0.75, 1.0, 1.0, 2.0], num_conv_branches=4),
        's1': _arch([1.5, 1.5, 2.0, 2.5]),
        's2': _arch([1.5, 2.0, 2.5, 4.0]),
        's3': _arch([2.0, 2.5, 3.0, 4.0]),
        's4': _arch([3.0, 3.5, 3.5, 4.0], num_se_blocks=[0, 0, 5, 1]),
    }
    arch_zoo = arch_settings  # MMPretrain's name for the table

    def __init__(self, arch: str | dict, in_channels: int = 3, out_indices: int | Sequence[int] = (3,),
                 frozen_stages: int = -1, conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'), se_cfg: dict = dict(ratio=16), deploy: bool = False,
                 norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                       dict(type='Constant', val=1, layer=['_BatchNorm'])]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'MobileOne arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict):
            raise ConfigTypeError(f'MobileOne arch must be a name or a dict, got the {type(arch).__name__} {arch!r}')
        keys = ('num_blocks', 'width_factor', 'num_conv_branches', 'num_se_blocks')
        if set(arch) != set(keys) or any(len(arch[k]) != 4 for k in keys):
            raise ConfigError(f'MobileOne arch dict needs exactly {", ".join(keys)}, each a list of 4 (one per '
                              f'stage); got {arch!r}')
        if any(se > n for se, n in zip(arch['num_se_blocks'], arch['num_blocks'])):
            raise ConfigError(f'MobileOne arch: num_se_blocks {arch["num_se_blocks"]} exceeds num_blocks '
                              f'{arch["num_blocks"]} in some stage')
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        if any(not -4 <= i < 4 for i in indices):
            raise ConfigError(f'MobileOne out_indices {out_indices} are out of range: it has 4 stages (0-3)')
        self.arch, self.out_indices = arch, tuple(i % 4 for i in indices)
        self.frozen_stages, self.norm_eval, self.deploy = frozen_stages, norm_eval, deploy
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, deploy=deploy)
        channels = min(64, int(self.base_channels[0] * arch['width_factor'][0]))
        self.stage0 = MobileOneBlock(in_channels, channels, 3, 1, stride=2, **common)
        self.stages, widths = [], []
        for i, num_blocks in enumerate(arch['num_blocks']):
            width = int(self.base_channels[i] * arch['width_factor'][i])
            blocks = []
            for j in range(num_blocks):
                se = se_cfg if j >= num_blocks - arch['num_se_blocks'][i] else None
                branches = arch['num_conv_branches'][i]
                blocks.append(MobileOneBlock(channels, channels, 3, branches, stride=2 if j == 0 else 1, padding=1,
                                             groups=channels, se_cfg=se, **common))     # depthwise
                blocks.append(MobileOneBlock(channels, width, 1, branches, padding=0, se_cfg=se, **common))  # pointwise
                channels = width
            self.add_module(f'stage{i + 1}', nn.Sequential(*blocks))
            self.stages.append(f'stage{i + 1}')
            widths.append(width)
        self.stage_channels = tuple(widths)
        self.stage_reductions = (4, 8, 16, 32)
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stage0(x)
        outs = []
        for i, name in enumerate(self.stages):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.stage0)
        for i in range(self.frozen_stages):
            freeze_module(getattr(self, f'stage{i + 1}'))

    def switch_to_deploy(self) -> None:
        """Fold every block into one convolution (see :class:`MobileOneBlock`)."""
        for m in self.modules():
            if isinstance(m, MobileOneBlock):
                m.switch_to_deploy()
        self.deploy = True

"""RepLKNet (Ding et al., "Scaling Up Your Kernels to 31x31: Revisiting Large Kernel Design in CNNs", CVPR 2022).

Stages of pairs of blocks: a large-kernel block (BN, 1x1 conv up to ``dw_ratio`` x, a depthwise 31x31 ..
13x13 conv trained beside a parallel depthwise 5x5, ReLU, 1x1 conv back; residual) and a conv FFN (BN, 1x1
conv to 4x, GELU, 1x1 conv back; residual). The small kernel folds into the large one for inference
(:meth:`RepLKNet.switch_to_deploy`, ``fovea reparameterize``, ``small_kernel_merged=True``).

MMPretrain's arguments and module names (``stem``, ``stages.<i>.blocks``, ``transitions``,
``large_kernel.lkb_origin`` / ``small_conv``, deploy form ``lkb_reparam``), so its checkpoints load.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.vision_transformer import _linspace
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.reparam import check_batch_norm, conv_bn, fuse_conv_bn, fused_conv, pad_kernel
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigTypeError, did_you_mean

__all__ = ['RepLKNet', 'RepLKBlock', 'ConvFFN', 'ReparamLargeKernelConv']


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
             norm_cfg: dict = dict(type='BN'), relu: bool = False) -> nn.Sequential:
    """MMPretrain's ``conv_bn`` / ``conv_bn_relu``: ``conv``, ``bn`` (and ``nonlinear``), padding k // 2."""
    seq = conv_bn(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, norm_cfg=norm_cfg,
                  norm_name='bn')
    if relu:
        seq.add_module('nonlinear', nn.ReLU())
    return seq


class ReparamLargeKernelConv(nn.Module):
    """A large-kernel conv-BN (``lkb_origin``) plus a parallel small-kernel conv-BN (``small_conv``), or,
    merged (:meth:`merge_kernel`), the one equivalent large conv with bias (``lkb_reparam``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int,
                 small_kernel: int | None, small_kernel_merged: bool = False, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.kernel_size, self.small_kernel, self.norm_cfg = kernel_size, small_kernel, norm_cfg
        self.small_kernel_merged = small_kernel_merged
        if small_kernel_merged:
            self.lkb_reparam = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                                         groups=groups, bias=True)
            return
        self.lkb_origin = _conv_bn(in_channels, out_channels, kernel_size, stride, groups, norm_cfg)
        if small_kernel is not None:
            if small_kernel > kernel_size:
                raise ConfigError(f'RepLKNet: the small kernel ({small_kernel}) must not exceed the large one '
                                  f'({kernel_size})')
            self.small_conv = _conv_bn(in_channels, out_channels, small_kernel, stride, groups, norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.small_kernel_merged:
            return self.lkb_reparam(x)
        out = self.lkb_origin(x)
        if hasattr(self, 'small_conv'):
            out = out + self.small_conv(x)
        return out

    @torch.no_grad()
    def get_equivalent_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = fuse_conv_bn(self.lkb_origin.conv.weight, self.lkb_origin.bn)
        if hasattr(self, 'small_conv'):
            w, b = fuse_conv_bn(self.small_conv.conv.weight, self.small_conv.bn)
            weight, bias = weight + pad_kernel(w, self.kernel_size), bias + b
        return weight, bias

    def merge_kernel(self) -> None:
        """Replace both branches by ``lkb_reparam``, in place (BN in eval mode)."""
        if self.small_kernel_merged:
            return
        check_batch_norm(self.norm_cfg, 'RepLKNet')
        weight, bias = self.get_equivalent_kernel_bias()
        self.lkb_reparam = fused_conv(self.lkb_origin.conv, weight, bias)
        del self.lkb_origin
        if hasattr(self, 'small_conv'):
            del self.small_conv
        self.small_kernel_merged = True


class RepLKBlock(nn.Module):
    """x + drop_path(pw2(act(large_kernel(pw1(prelkb_bn(x))))))."""

    def __init__(self, in_channels: int, dw_channels: int, block_lk_size: int, small_kernel: int | None,
                 drop_path: float, small_kernel_merged: bool = False, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')):
        super().__init__()
        self.pw1 = _conv_bn(in_channels, dw_channels, 1, norm_cfg=norm_cfg, relu=True)
        self.pw2 = _conv_bn(dw_channels, in_channels, 1, norm_cfg=norm_cfg)
        self.large_kernel = ReparamLargeKernelConv(dw_channels, dw_channels, block_lk_size, 1, dw_channels,
                                                   small_kernel, small_kernel_merged, norm_cfg)
        self.lk_nonlinear = build_activation_layer(act_cfg)
        self.prelkb_bn = build_norm_layer(norm_cfg, in_channels)[1]
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pw2(self.lk_nonlinear(self.large_kernel(self.pw1(self.prelkb_bn(x)))))
        return x + self.drop_path(out)


class ConvFFN(nn.Module):
    """x + drop_path(pw2(act(pw1(preffn_bn(x))))), with 1x1 conv-BNs."""

    def __init__(self, in_channels: int, internal_channels: int, out_channels: int, drop_path: float,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU')):
        super().__init__()
        self.preffn_bn = build_norm_layer(norm_cfg, in_channels)[1]
        self.pw1 = _conv_bn(in_channels, internal_channels, 1, norm_cfg=norm_cfg)
        self.pw2 = _conv_bn(internal_channels, out_channels, 1, norm_cfg=norm_cfg)
        self.nonlinear = build_activation_layer(act_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.pw2(self.nonlinear(self.pw1(self.preffn_bn(x)))))


class RepLKNetStage(nn.Module):
    """``num_blocks`` (RepLKBlock, ConvFFN) pairs in ``blocks``; ``norm`` (BN) on the output of stages that
    are returned, else Identity."""

    def __init__(self, channels: int, num_blocks: int, stage_lk_size: int, drop_path: list[float],
                 small_kernel: int | None, dw_ratio: float = 1, ffn_ratio: float = 4, with_cp: bool = False,
                 small_kernel_merged: bool = False, norm_intermediate_features: bool = False,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.with_cp = with_cp
        blocks = []
        for i in range(num_blocks):
            blocks.append(RepLKBlock(channels, int(channels * dw_ratio), stage_lk_size, small_kernel, drop_path[i],
                                     small_kernel_merged, norm_cfg))
            blocks.append(ConvFFN(channels, int(channels * ffn_ratio), channels, drop_path[i], norm_cfg))
        self.blocks = nn.ModuleList(blocks)
        self.norm = build_norm_layer(norm_cfg, channels)[1] if norm_intermediate_features else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = cp.checkpoint(block, x, use_reentrant=False) if self.with_cp and x.requires_grad else block(x)
        return x


@MODELS.register_module()
class RepLKNet(BaseBackbone):
    """RepLKNet backbone with MMPretrain's arguments.

    Args:
        arch: '31B', '31L', 'XL', or a dict with ``large_kernel_sizes``, ``layers``, ``channels`` (one per
            stage), ``small_kernel`` (None: no parallel small kernel, as XL) and ``dw_ratio``.
        in_channels, ffn_ratio: input channels; the FFNs' expansion (4).
        out_indices: stages to return; each gets a BN on its output (``stages.<i>.norm``), as in MMPretrain.
        strides / dilations: kept for MMPretrain's signature (one per stage); the network downsamples in its
            stem (4x) and transitions (2x each) as MMPretrain's does.
        frozen_stages: freeze the stem and the first ``frozen_stages`` stages (-1: none).
        drop_path_rate: stochastic depth, growing linearly over the blocks (MMPretrain's default 0.3).
        small_kernel_merged: build the re-parameterised form (``lkb_reparam``) directly.
        norm_intermediate_features: kept for MMPretrain's signature (it does not use it either).
        conv_cfg / norm_cfg / act_cfg, norm_eval, with_cp: as usual.
    """
    prefers_channels_last = True
    deploy_argument = 'small_kernel_merged'   # what `fovea reparameterize` sets in the saved config
    arch_settings = {
        '31B': dict(large_kernel_sizes=[31, 29, 27, 13], layers=[2, 2, 18, 2], channels=[128, 256, 512, 1024],
                    small_kernel=5, dw_ratio=1),
        '31L': dict(large_kernel_sizes=[31, 29, 27, 13], layers=[2, 2, 18, 2], channels=[192, 384, 768, 1536],
                    small_kernel=5, dw_ratio=1),
        'XL': dict(large_kernel_sizes=[27, 27, 27, 13], layers=[2, 2, 18, 2], channels=[256, 512, 1024, 2048],
                   small_kernel=None, dw_ratio=1.5),
    }

    def __init__(self, arch: str | dict, in_channels: int = 3, ffn_ratio: float = 4,
                 out_indices: Sequence[int] = (3,), strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'), with_cp: bool = False,
                 drop_path_rate: float = 0.3, small_kernel_merged: bool = False,
                 norm_intermediate_features: bool = False, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                       dict(type='Constant', val=1,
                                                            layer=['_BatchNorm', 'GroupNorm'])]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'RepLKNet arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict):
            raise ConfigTypeError(f'RepLKNet arch must be a name or a dict, got the {type(arch).__name__} {arch!r}')
        keys = {'large_kernel_sizes', 'layers', 'channels', 'small_kernel', 'dw_ratio'}
        if not keys <= set(arch):
            raise ConfigError(f'RepLKNet arch dict needs {", ".join(sorted(keys))}; got keys {sorted(arch)}')
        num_stages = len(arch['layers'])
        if not len(arch['channels']) == len(arch['large_kernel_sizes']) == len(strides) == len(dilations) \
                == num_stages:
            raise ConfigError(f'RepLKNet: layers, channels, large_kernel_sizes, strides and dilations need one entry '
                              f'per stage ({num_stages})')
        out_indices = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ConfigError(f'RepLKNet out_indices {out_indices} are out of range: it has {num_stages} stages')
        self.arch, self.num_stages, self.out_indices = arch, num_stages, out_indices
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        self.small_kernel_merged = small_kernel_merged
        channels = arch['channels']
        width = channels[0]
        self.stem = nn.ModuleList([
            _conv_bn(in_channels, width, 3, 2, norm_cfg=norm_cfg, relu=True),
            _conv_bn(width, width, 3, 1, width, norm_cfg, relu=True),
            _conv_bn(width, width, 1, norm_cfg=norm_cfg, relu=True),
            _conv_bn(width, width, 3, 2, width, norm_cfg, relu=True),
        ])
        dpr = _linspace(drop_path_rate, sum(arch['layers']))
        self.stages, self.transitions = nn.ModuleList(), nn.ModuleList()
        for i in range(num_stages):
            start = sum(arch['layers'][:i])
            self.stages.append(RepLKNetStage(
                channels[i], arch['layers'][i], arch['large_kernel_sizes'][i], dpr[start:start + arch['layers'][i]],
                arch['small_kernel'], arch['dw_ratio'], ffn_ratio, with_cp, small_kernel_merged,
                norm_intermediate_features=i in out_indices, norm_cfg=norm_cfg))
            if i < num_stages - 1:
                self.transitions.append(nn.Sequential(
                    _conv_bn(channels[i], channels[i + 1], 1, norm_cfg=norm_cfg, relu=True),
                    _conv_bn(channels[i + 1], channels[i + 1], 3, 2, channels[i + 1], norm_cfg, relu=True)))
        self.stage_channels = tuple(channels)
        self.stage_reductions = tuple(4 * 2 ** i for i in range(num_stages))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for i, layer in enumerate(self.stem):
            x = cp.checkpoint(layer, x, use_reentrant=False) if self.with_cp and i and x.requires_grad else layer(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(stage.norm(x))
            if i < self.num_stages - 1:
                x = self.transitions[i](x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.stem)
        for i in range(self.frozen_stages):
            freeze_module(self.stages[i])

    def switch_to_deploy(self) -> None:
        """Merge every block's small kernel into its large one (see :class:`ReparamLargeKernelConv`)."""
        for m in self.modules():
            if isinstance(m, ReparamLargeKernelConv):
                m.merge_kernel()
        self.small_kernel_merged = True

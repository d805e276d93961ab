"""ConvNeXt (Liu et al., "A ConvNet for the 2020s", CVPR 2022)."""
from __future__ import annotations

from itertools import chain
from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['ConvNeXt', 'ConvNeXtBlock', 'GRN']


class GRN(nn.Module):
    """Global Response Normalization (ConvNeXt V2, Woo et al. 2023) on channels-last (N, H, W, C)
    input: each channel's spatial L2 norm, divided by its mean over channels, rescales the features,
    ``gamma * (x * nx) + beta + x``; ``gamma`` and ``beta`` start at zero (an identity)."""

    def __init__(self, in_channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(in_channels))
        self.beta = nn.Parameter(torch.zeros(in_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv -> LayerNorm -> Linear (x4) -> GELU [-> GRN] -> Linear -> layer scale
    (``gamma``), added to the input through drop path. The pointwise layers run channels-last as
    ``nn.Linear``; ``use_grn`` (ConvNeXt V2) adds :class:`GRN` on the expanded features.
    """

    def __init__(self, in_channels: int, norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), mlp_ratio: float = 4., drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6, use_grn: bool = False, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.depthwise_conv = nn.Conv2d(in_channels, in_channels, kernel_size=7, padding=3, groups=in_channels)
        norm_cfg = dict(norm_cfg)
        if norm_cfg.get('type') == 'LN2d':  # applied channels-last, where it is a plain LayerNorm
            norm_cfg['type'] = 'LN'
        self.norm = build_norm_layer(norm_cfg, in_channels)[1]
        mid_channels = int(mlp_ratio * in_channels)
        self.pointwise_conv1 = nn.Linear(in_channels, mid_channels)
        self.act = build_activation_layer(act_cfg)
        self.grn = GRN(mid_channels) if use_grn else None
        self.pointwise_conv2 = nn.Linear(mid_channels, in_channels)
        self.gamma = nn.Parameter(torch.full((in_channels,), float(layer_scale_init_value))) \
            if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0. else nn.Identity()

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.depthwise_conv(x).permute(0, 2, 3, 1)
        x = self.act(self.pointwise_conv1(self.norm(x)))
        if self.grn is not None:
            x = self.grn(x)
        x = self.pointwise_conv2(x)
        if self.gamma is not None:
            x = x * self.gamma
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


@MODELS.register_module()
class ConvNeXt(BaseBackbone):
    """ConvNeXt backbone with MMPretrain's arguments and module names.

    A 4x4 stride-4 patchify stem and three 2x2 stride-2 downsampling layers
    (``downsample_layers.0..3``, each with LayerNorm), four stages of ConvNeXt blocks
    (``stages.0..3``) and, for every returned stage i, a LayerNorm ``norm{i}``. With
    ``gap_before_final_norm`` (default) the returned features are globally pooled then normalised,
    as in the paper's classifier.

    Args:
        arch: 'atto', 'femto', 'pico', 'nano', 'tiny', 'small', 'base', 'large', 'xlarge', 'huge',
            or a dict with ``depths`` and ``channels``.
        in_channels, stem_patch_size: stem input channels and patch size.
        norm_cfg / act_cfg: LN2d (eps 1e-6) and GELU by default.
        drop_path_rate: stochastic depth, rising linearly over the blocks to this value.
        layer_scale_init_value: initial layer scale (0 disables it).
        use_grn: Global Response Normalization in every block: ConvNeXt V2 (MMPretrain's convnext_v2
            configs set it with ``layer_scale_init_value=0.``).
        out_indices: stages to return (negative counts from the end).
        frozen_stages: freeze the first ``frozen_stages`` downsampling layers and stages.
        gap_before_final_norm: pool before the output norm (returns (B, C) vectors).
        with_cp: gradient checkpointing inside the blocks.
    """
    prefers_channels_last = True

    arch_settings = {
        'atto': dict(depths=[2, 2, 6, 2], channels=[40, 80, 160, 320]),
        'femto': dict(depths=[2, 2, 6, 2], channels=[48, 96, 192, 384]),
        'pico': dict(depths=[2, 2, 6, 2], channels=[64, 128, 256, 512]),
        'nano': dict(depths=[2, 2, 8, 2], channels=[80, 160, 320, 640]),
        'tiny': dict(depths=[3, 3, 9, 3], channels=[96, 192, 384, 768]),
        'small': dict(depths=[3, 3, 27, 3], channels=[96, 192, 384, 768]),
        'base': dict(depths=[3, 3, 27, 3], channels=[128, 256, 512, 1024]),
        'large': dict(depths=[3, 3, 27, 3], channels=[192, 384, 768, 1536]),
        'xlarge': dict(depths=[3, 3, 27, 3], channels=[256, 512, 1024, 2048]),
        'huge': dict(depths=[3, 3, 27, 3], channels=[352, 704, 1408, 2816]),
    }

    def __init__(self, arch: str | dict = 'tiny', in_channels: int = 3, stem_patch_size: int = 4,
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6), act_cfg: dict = dict(type='GELU'),
                 linear_pw_conv: bool = True, use_grn: bool = False, drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6, out_indices: int | Sequence[int] = -1,
                 frozen_stages: int = 0, gap_before_final_norm: bool = True, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = [
                     dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
                     dict(type='Constant', layer=['LayerNorm'], val=1., bias=0.)]):
        super().__init__(init_cfg)
        if not linear_pw_conv:
            raise ConfigError('ConvNeXt linear_pw_conv=False (1x1 convolutions instead of Linear layers) is not '
                              'implemented; the two compute the same function, so use linear_pw_conv=True.')
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'ConvNeXt arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict) or not {'depths', 'channels'} <= set(arch):
            raise ConfigError(f'ConvNeXt arch dict needs "depths" and "channels", got {arch!r}')
        self.depths, self.channels = list(arch['depths']), list(arch['channels'])
        if len(self.depths) != len(self.channels):
            raise ConfigError(f'ConvNeXt depths {self.depths} and channels {self.channels} differ in length')
        self.num_stages = len(self.depths)
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = [i + self.num_stages if i < 0 else i for i in out_indices]
        for i in self.out_indices:
            if i not in range(self.num_stages):
                raise ValueError(f'ConvNeXt out_indices {out_indices} out of range for {self.num_stages} stages')
        self.frozen_stages = frozen_stages
        self.gap_before_final_norm = gap_before_final_norm
        dpr = torch.linspace(0, drop_path_rate, sum(self.depths), device='cpu').tolist()
        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, self.channels[0], kernel_size=stem_patch_size, stride=stem_patch_size),
            build_norm_layer(norm_cfg, self.channels[0])[1])])
        self.stages = nn.ModuleList()
        block_idx = 0
        for i, (depth, channels) in enumerate(zip(self.depths, self.channels)):
            if i >= 1:
                self.downsample_layers.append(nn.Sequential(
                    build_norm_layer(norm_cfg, self.channels[i - 1])[1],
                    nn.Conv2d(self.channels[i - 1], channels, kernel_size=2, stride=2)))
            self.stages.append(nn.Sequential(*[
                ConvNeXtBlock(channels, norm_cfg=norm_cfg, act_cfg=act_cfg, drop_path_rate=dpr[block_idx + j],
                              layer_scale_init_value=layer_scale_init_value, use_grn=use_grn, with_cp=with_cp)
                for j in range(depth)]))
            block_idx += depth
            if i in self.out_indices:
                self.add_module(f'norm{i}', build_norm_layer(norm_cfg, channels)[1])
        self.stage_channels = tuple(self.channels)
        # gap_before_final_norm: pooled (B, C) vectors, not maps
        self.stage_reductions = tuple(None if gap_before_final_norm else stem_patch_size * 2 ** i
                                      for i in range(self.num_stages))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if self.gap_before_final_norm:
                    outs.append(norm(x.mean((-2, -1))))
                else:
                    outs.append(norm(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            for m in (self.downsample_layers[i], self.stages[i]):
                m.eval()
            for p in chain(self.downsample_layers[i].parameters(), self.stages[i].parameters()):
                p.requires_grad = False

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        return tuple(self.out_indices)  # each output has its own norm layer

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """Layer id for layer-wise learning-rate decay, as MMPretrain numbers ConvNeXt's layers
        (the third stage counts one layer per three blocks)."""
        max_layer_id = 12 if self.depths[-2] > 9 else 6
        if not param_name.startswith(prefix):
            return max_layer_id + 1, max_layer_id + 2
        name = param_name[len(prefix):]
        if name.startswith('downsample_layers'):
            stage_id = int(name.split('.')[1])
            layer_id = 0 if stage_id == 0 else (stage_id + 1 if stage_id in (1, 2) else max_layer_id)
        elif name.startswith('stages'):
            stage_id, block_id = int(name.split('.')[1]), int(name.split('.')[2])
            if stage_id in (0, 1):
                layer_id = stage_id + 1
            elif stage_id == 2:
                layer_id = 3 + block_id // 3
            else:
                layer_id = max_layer_id
        else:
            layer_id = max_layer_id + 1
        return layer_id, max_layer_id + 2

"""VAN (Guo et al., "Visual Attention Network", CVMJ 2023).

Four stages, each an overlapping patch embedding (stride-``k//2+1`` conv + BN), blocks of large-kernel
attention (LKA: 5x5 depthwise, 7x7 depthwise with dilation 3, 1x1 conv, multiplied into the input)
and a conv MLP with a 3x3 depthwise conv, both pre-BN with layer scales, then a LayerNorm.
MMPretrain's arguments and module names (``patch_embed<i>``, ``blocks<i>``, ``norm<i>``), so its
checkpoints load unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['VAN', 'VANBlock']


class MixFFN(BaseModule):
    """1x1 conv -> 3x3 depthwise conv -> act -> 1x1 conv (dropout after the activation and the output)."""

    def __init__(self, embed_dims: int, feedforward_channels: int, act_cfg: dict = dict(type='GELU'),
                 ffn_drop: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.fc1 = nn.Conv2d(embed_dims, feedforward_channels, 1)
        self.dwconv = nn.Conv2d(feedforward_channels, feedforward_channels, 3, padding=1,
                                groups=feedforward_channels)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(feedforward_channels, embed_dims, 1)
        self.drop = nn.Dropout(ffn_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.dwconv(self.fc1(x))))))


class LKA(BaseModule):
    """Large-kernel attention: a 21x21 receptive field from two depthwise convs and a 1x1, as a gate."""

    def __init__(self, embed_dims: int, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.DW_conv = nn.Conv2d(embed_dims, embed_dims, 5, padding=2, groups=embed_dims)
        self.DW_D_conv = nn.Conv2d(embed_dims, embed_dims, 7, padding=9, groups=embed_dims, dilation=3)
        self.conv1 = nn.Conv2d(embed_dims, embed_dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv1(self.DW_D_conv(self.DW_conv(x)))


class SpatialAttention(BaseModule):
    """1x1 conv -> act -> LKA -> 1x1 conv, plus the input."""

    def __init__(self, embed_dims: int, act_cfg: dict = dict(type='GELU'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.proj_1 = nn.Conv2d(embed_dims, embed_dims, 1)
        self.activation = build_activation_layer(act_cfg)
        self.spatial_gating_unit = LKA(embed_dims)
        self.proj_2 = nn.Conv2d(embed_dims, embed_dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))


class VANBlock(BaseModule):
    """``x + s1 * attn(bn(x))`` then ``x + s2 * mlp(bn(x))`` (``s``: per-channel layer scales)."""

    def __init__(self, embed_dims: int, ffn_ratio: float = 4., drop_rate: float = 0., drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='BN', eps=1e-5),
                 layer_scale_init_value: float = 1e-2, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.out_channels = embed_dims
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = SpatialAttention(embed_dims, act_cfg=act_cfg)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0. else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = MixFFN(embed_dims, int(embed_dims * ffn_ratio), act_cfg=act_cfg, ffn_drop=drop_rate)
        scale = layer_scale_init_value
        self.layer_scale_1 = nn.Parameter(torch.full((embed_dims,), scale)) if scale > 0 else None
        self.layer_scale_2 = nn.Parameter(torch.full((embed_dims,), scale)) if scale > 0 else None

    @staticmethod
    def _scaled(x: torch.Tensor, scale: nn.Parameter | None) -> torch.Tensor:
        return x if scale is None else scale[:, None, None] * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self._scaled(self.attn(self.norm1(x)), self.layer_scale_1))
        return x + self.drop_path(self._scaled(self.mlp(self.norm2(x)), self.layer_scale_2))


class VANPatchEmbed(nn.Module):
    """Overlapping patch embedding on feature maps: conv (stride ``k // 2 + 1``, padding ``k // 2``) + BN."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size // 2 + 1,
                                    padding=patch_size // 2)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.projection(x))


@MODELS.register_module()
class VAN(BaseBackbone):
    """Visual Attention Network backbone with MMPretrain's arguments.

    Args:
        arch: 't'/'tiny', 's'/'small', 'b'/'base', 'l'/'large', or a dict with ``embed_dims``,
            ``depths`` and ``ffn_ratios`` (one entry per stage).
        patch_sizes: kernel of each stage's patch embedding ((7, 3, 3, 3): strides 4, 2, 2, 2).
        in_channels: input channels.
        drop_rate / drop_path_rate: MLP dropout, stochastic depth (linear over all blocks).
        out_indices: stages whose outputs are returned.
        frozen_stages: freeze the patch embeddings, blocks and norms of stages 0..frozen_stages (-1: none).
        norm_eval: keep batch norms in eval mode while training.
        norm_cfg: the norm after each stage (LN over channels).
        block_cfgs: extra :class:`VANBlock` arguments for every block.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=[32, 64, 160, 256], depths=[3, 3, 5, 2], ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=[64, 128, 320, 512], depths=[2, 2, 4, 2],
                                             ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=[64, 128, 320, 512], depths=[3, 3, 12, 3],
                                            ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=[64, 128, 320, 512], depths=[3, 5, 27, 3],
                                             ffn_ratios=[8, 8, 4, 4])),
    }
    prefers_channels_last = True

    def __init__(self, arch: str | dict = 'tiny', patch_sizes: Sequence[int] = (7, 3, 3, 3), in_channels: int = 3,
                 drop_rate: float = 0., drop_path_rate: float = 0., out_indices: int | Sequence[int] = (3,),
                 frozen_stages: int = -1, norm_eval: bool = False, norm_cfg: dict = dict(type='LN'),
                 block_cfgs: dict = dict(), init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        keys = {'embed_dims', 'depths', 'ffn_ratios'}
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ConfigError(f'VAN arch {arch!r} is unknown.{did_you_mean(arch, self.arch_zoo)} Choose one '
                                  f'of {", ".join(self.arch_zoo)}, or give a dict of {", ".join(sorted(keys))}.')
            arch = self.arch_zoo[arch.lower()]
        elif not isinstance(arch, dict) or set(arch) != keys:
            raise ConfigError(f'VAN arch must be a name or a dict of exactly {", ".join(sorted(keys))}, got {arch!r}')
        self.arch_settings = arch
        self.embed_dims, self.depths, self.ffn_ratios = arch['embed_dims'], arch['depths'], arch['ffn_ratios']
        self.num_stages = len(self.depths)
        if not len(self.embed_dims) == len(self.ffn_ratios) == len(patch_sizes) == self.num_stages:
            raise ConfigError(f'VAN needs one embed_dims, ffn_ratios and patch_sizes entry per stage '
                              f'({self.num_stages}); got {arch} and patch_sizes={tuple(patch_sizes)}')
        indices = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
        self.out_indices = tuple(i % self.num_stages for i in indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        total = sum(self.depths)
        dpr = [drop_path_rate * j / max(total - 1, 1) for j in range(total)]   # linear, as torch.linspace
        start, reduction, reductions = 0, 1, []
        for i, (dims, depth) in enumerate(zip(self.embed_dims, self.depths)):
            self.add_module(f'patch_embed{i + 1}', VANPatchEmbed(in_channels if i == 0 else self.embed_dims[i - 1],
                                                                 dims, patch_sizes[i]))
            self.add_module(f'blocks{i + 1}', nn.ModuleList(
                VANBlock(dims, self.ffn_ratios[i], drop_rate, dpr[start + j], **block_cfgs) for j in range(depth)))
            self.add_module(f'norm{i + 1}', build_norm_layer(norm_cfg, dims)[1])
            start += depth
            reduction *= patch_sizes[i] // 2 + 1
            reductions.append(reduction)
        self.stage_channels, self.stage_reductions = tuple(self.embed_dims), tuple(reductions)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            for part in ('patch_embed', 'blocks', 'norm'):
                freeze_module(getattr(self, f'{part}{i + 1}'))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f'patch_embed{i + 1}')(x)
            for block in getattr(self, f'blocks{i + 1}'):
                x = block(x)
            # LayerNorm over channels
            x = getattr(self, f'norm{i + 1}')(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

"""PoolFormer (Yu et al., "MetaFormer is Actually What You Need for Vision", CVPR 2022).

A MetaFormer: four stages of blocks ``x + s1 * mixer(norm1(x))``, ``x + s2 * mlp(norm2(x))`` on
(B, C, H, W) maps, with a strided-conv patch embedding before each stage. PoolFormer's token mixer
is ``avgpool3x3(x) - x``; other MetaFormers (:class:`~fovea.models.backbones.riformer.RIFormer`)
subclass and change :meth:`PoolFormer.build_block` alone.

MMPretrain's arguments and module names: ``patch_embed.proj``, ``network.{0..6}`` (stages at the
even indices, down-sampling embeddings at the odd ones), block ``norm1``/``token_mixer``/``norm2``/
``mlp.fc1``/``mlp.fc2``/``layer_scale_1``/``layer_scale_2``, and an output norm ``norm{i}`` for
each of the ``out_indices`` (0-6, over ``network``), so its checkpoints load as they are.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['PoolFormer', 'MetaFormerBlock', 'Pooling']

_GN1 = dict(type='GN', num_groups=1)


class ConvEmbed(nn.Module):
    """A strided convolution (``proj``) that embeds or down-samples a (B, C, H, W) map."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Pooling(nn.Module):
    """PoolFormer's token mixer: ``avgpool(x) - x`` (the block's residual adds ``x`` back)."""

    def __init__(self, pool_size: int = 3):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class ConvMlp(nn.Module):
    """1x1 conv -> activation -> dropout -> 1x1 conv -> dropout, on (B, C, H, W)."""

    def __init__(self, channels: int, hidden: int, act_cfg: dict, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MetaFormerBlock(nn.Module):
    """``x + s1 * mixer(norm1(x))`` then ``x + s2 * mlp(norm2(x))``, per-channel scales ``s1``/``s2``."""

    def __init__(self, dim: int, token_mixer: nn.Module, mlp_ratio: float = 4., norm_cfg: dict = _GN1,
                 act_cfg: dict = dict(type='GELU'), drop: float = 0., drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-5):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.token_mixer = token_mixer
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), act_cfg, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.token_mixer(self.norm1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1.view(-1, 1, 1) * self.mix(x))
        return x + self.drop_path(self.layer_scale_2.view(-1, 1, 1) * self.mlp(self.norm2(x)))


@MODELS.register_module()
class PoolFormer(BaseBackbone):
    """PoolFormer backbone with MMPretrain's arguments.

    Args:
        arch: 's12', 's24', 's36', 'm36', 'm48', or a dict with ``layers`` and ``embed_dims`` (and
            optionally ``mlp_ratios``, default 4 per stage, and ``layer_scale_init_value``, 1e-5).
        pool_size: the token mixer's pooling window.
        norm_cfg / act_cfg: block norms (GroupNorm with one group) and the MLP activation (GELU).
        in_patch_size / in_stride / in_pad: the stem convolution (7 / 4 / 2).
        down_patch_size / down_stride / down_pad: the down-sampling convolutions (3 / 2 / 1).
        drop_rate / drop_path_rate: MLP dropout; stochastic depth rising linearly to ``drop_path_rate``.
        out_indices: positions in ``network`` to return (0, 2, 4, 6: the stages; 1, 3, 5: the
            down-sampling embeddings); -1 is the last stage. Each gets its own norm ``norm{i}``.
        frozen_stages: freeze the stem and the first ``frozen_stages`` entries of ``network``.
    """
    arch_settings = {
        's12': dict(layers=[2, 2, 6, 2], embed_dims=[64, 128, 320, 512], layer_scale_init_value=1e-5),
        's24': dict(layers=[4, 4, 12, 4], embed_dims=[64, 128, 320, 512], layer_scale_init_value=1e-5),
        's36': dict(layers=[6, 6, 18, 6], embed_dims=[64, 128, 320, 512], layer_scale_init_value=1e-6),
        'm36': dict(layers=[6, 6, 18, 6], embed_dims=[96, 192, 384, 768], layer_scale_init_value=1e-6),
        'm48': dict(layers=[8, 8, 24, 8], embed_dims=[96, 192, 384, 768], layer_scale_init_value=1e-6),
    }
    #: the name MMPretrain's errors and fovea's use for this family
    family = 'PoolFormer'

    def __init__(self, arch: str | dict = 's12', pool_size: int = 3, norm_cfg: dict = _GN1,
                 act_cfg: dict = dict(type='GELU'), in_patch_size: int = 7, in_stride: int = 4, in_pad: int = 2,
                 down_patch_size: int = 3, down_stride: int = 2, down_pad: int = 1, drop_rate: float = 0.,
                 drop_path_rate: float = 0., out_indices: int | Sequence[int] = -1, frozen_stages: int = 0,
                 init_cfg: dict | list[dict] | None = None, in_channels: int = 3):
        super().__init__(init_cfg)
        self.pool_size = pool_size
        arch = self._arch(arch)
        layers, dims = arch['layers'], arch['embed_dims']
        mlp_ratios = arch.get('mlp_ratios', [4] * len(layers))
        scale = arch.get('layer_scale_init_value', 1e-5)
        self.patch_embed = ConvEmbed(in_channels, dims[0], in_patch_size, in_stride, in_pad)
        network, channels, reductions = [], [], []
        total, reduction = sum(layers), in_stride
        for i, (n, dim) in enumerate(zip(layers, dims)):
            start = sum(layers[:i])
            network.append(nn.Sequential(*[
                self.build_block(dim, mlp_ratio=mlp_ratios[i], norm_cfg=norm_cfg, act_cfg=act_cfg, drop=drop_rate,
                                 drop_path=drop_path_rate * (start + j) / max(total - 1, 1),
                                 layer_scale_init_value=scale)
                for j in range(n)]))
            channels.append(dim)
            reductions.append(reduction)
            if i + 1 < len(layers) and dims[i + 1] != dim:
                network.append(ConvEmbed(dim, dims[i + 1], down_patch_size, down_stride, down_pad))
                reduction *= down_stride
                channels.append(dims[i + 1])
                reductions.append(reduction)
        self.network = nn.ModuleList(network)
        self.stage_channels, self.stage_reductions = tuple(channels), tuple(reductions)
        n_out = len(network)
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        bad = [i for i in indices if not -n_out <= i < n_out]
        if bad:
            raise ConfigError(f'{self.family} out_indices {bad} are out of range: the network has {n_out} '
                              f'positions (0-{n_out - 1}, stages at the even ones); -1 is the last stage')
        self.out_indices = tuple(i % n_out for i in indices)
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, channels[i])[1])
        self.feat_dim = dims[-1]
        self.frozen_stages = frozen_stages
        self._freeze_stages()

    def _arch(self, arch: str | dict) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'{self.family} arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}, or give a dict with layers '
                                  f'and embed_dims.')
            return self.arch_settings[arch]
        if not isinstance(arch, dict) or not {'layers', 'embed_dims'} <= set(arch):
            raise ConfigError(f'{self.family} arch must be a name or a dict with "layers" and "embed_dims", '
                              f'got {arch!r}')
        return arch

    def build_block(self, dim: int, **kwargs) -> nn.Module:
        """One block of width ``dim`` (``kwargs``: :class:`MetaFormerBlock`'s arguments after the mixer)."""
        return MetaFormerBlock(dim, Pooling(self.pool_size), **kwargs)

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        return self.out_indices       # each output has its own norm, built for out_indices only

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.network):
            x = layer(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_module(self.patch_embed)
        for i in range(self.frozen_stages):
            freeze_module(self.network[i])
            if i in self.out_indices:
                freeze_module(getattr(self, f'norm{i}'))

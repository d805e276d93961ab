"""ConvMixer (Trockman & Kolter, "Patches Are All You Need?", TMLR 2023).

A patch-embedding conv (stride = kernel = patch size) followed by ``depth`` identical blocks: a
residual depthwise ``kernel_size`` conv ("same" padding), then a pointwise conv, each followed by
the activation and a norm. Resolution never changes. MMPretrain's arguments and module names
(``stem``, ``stages.<i>.0.fn`` for the residual branch), so its checkpoints load unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.freeze import freeze_module
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['ConvMixer']


class Residual(nn.Module):
    """``fn(x) + x`` (the wrapped module is ``fn``, as MMPretrain and timm name it)."""

    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


@MODELS.register_module()
class ConvMixer(BaseBackbone):
    """ConvMixer backbone with MMPretrain's arguments.

    Args:
        arch: '768/32', '1024/20', '1536/20', or a dict with ``embed_dims``, ``depth``,
            ``patch_size`` and ``kernel_size``.
        in_channels: input channels.
        norm_cfg / act_cfg: the norm and activation after every conv (BN, GELU).
        out_indices: blocks whose outputs are returned (-1: the last).
        frozen_stages: number of blocks to freeze (0: none; the stem is never frozen, as in MMPretrain).
    """
    arch_settings = {
        '768/32': dict(embed_dims=768, depth=32, patch_size=7, kernel_size=7),
        '1024/20': dict(embed_dims=1024, depth=20, patch_size=14, kernel_size=9),
        '1536/20': dict(embed_dims=1536, depth=20, patch_size=7, kernel_size=9),
    }
    prefers_channels_last = True

    def __init__(self, arch: str | dict = '768/32', in_channels: int = 3, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='GELU'), out_indices: int | Sequence[int] = -1, frozen_stages: int = 0,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        keys = {'embed_dims', 'depth', 'patch_size', 'kernel_size'}
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ConfigError(f'ConvMixer arch {arch!r} is unknown.{did_you_mean(arch, self.arch_settings)} '
                                  f'Choose one of {", ".join(self.arch_settings)}, or give a dict of '
                                  f'{", ".join(sorted(keys))}.')
            arch = self.arch_settings[arch]
        elif not isinstance(arch, dict) or not keys <= set(arch):
            raise ConfigError(f'ConvMixer arch must be a name or a dict of {", ".join(sorted(keys))}, got {arch!r}')
        dims, self.depth = arch['embed_dims'], arch['depth']
        self.embed_dims, self.patch_size, self.kernel_size = dims, arch['patch_size'], arch['kernel_size']
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = tuple(i + self.depth if i < 0 else i for i in indices)
        if any(not 0 <= i < self.depth for i in self.out_indices):
            raise ConfigError(f'ConvMixer out_indices {tuple(indices)} out of range for {self.depth} blocks')
        self.frozen_stages = frozen_stages
        self.act = build_activation_layer(act_cfg)

        def norm() -> nn.Module:
            return build_norm_layer(norm_cfg, dims)[1]

        self.stem = nn.Sequential(nn.Conv2d(in_channels, dims, self.patch_size, stride=self.patch_size),
                                  self.act, norm())
        self.stages = nn.Sequential(*[
            nn.Sequential(
                Residual(nn.Sequential(nn.Conv2d(dims, dims, self.kernel_size, groups=dims, padding='same'),
                                       self.act, norm())),
                nn.Conv2d(dims, dims, 1), self.act, norm())
            for _ in range(self.depth)])
        self.stage_channels = (dims,) * self.depth
        self.stage_reductions = (self.patch_size,) * self.depth
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for stage in self.stages[:self.frozen_stages]:
            freeze_module(stage)

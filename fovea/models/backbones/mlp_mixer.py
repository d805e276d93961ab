"""MLP-Mixer (Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", NeurIPS 2021).

Patch tokens pass through blocks of two MLPs: one across tokens (on the transposed ``(B, C, N)``
map, so it is tied to the number of patches and the input size is fixed), one across channels,
each after a LayerNorm and with a residual. MMPretrain's arguments and module names (``patch_embed``,
``layers.<i>.token_mix`` / ``channel_mix`` as MMCV FFNs, final ``ln1``), so its checkpoints load.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.patch_embed import PatchEmbed, to_2tuple
from fovea.models.layers.transformer import FFN
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['MixerBlock', 'MlpMixer']


class MixerBlock(BaseModule):
    """Token-mixing MLP then channel-mixing MLP, each pre-norm with a residual."""

    def __init__(self, num_tokens: int, embed_dims: int, tokens_mlp_dims: int, channels_mlp_dims: int,
                 drop_rate: float = 0., drop_path_rate: float = 0., num_fcs: int = 2,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, embed_dims, postfix=1)
        self.add_module(self.norm1_name, norm1)
        drop_path = dict(type='DropPath', drop_prob=drop_path_rate)
        self.token_mix = FFN(num_tokens, tokens_mlp_dims, num_fcs, act_cfg, drop_rate, drop_path, add_identity=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, embed_dims, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.channel_mix = FFN(embed_dims, channels_mlp_dims, num_fcs, act_cfg, drop_rate, drop_path)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def init_weights(self) -> None:
        super().init_weights()
        for m in [*self.token_mix.modules(), *self.channel_mix.modules()]:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return self.channel_mix(self.norm2(x), identity=x)


@MODELS.register_module()
class MlpMixer(BaseBackbone):
    """MLP-Mixer backbone with MMPretrain's arguments.

    Args:
        arch: 's'/'small', 'b'/'base', 'l'/'large', or a dict with ``embed_dims``, ``num_layers``,
            ``tokens_mlp_dims`` and ``channels_mlp_dims``.
        img_size: the input size the model is built for (the only one it accepts).
        patch_size: patch size of the embedding conv.
        out_indices: blocks whose outputs are returned, as ``(B, C, N)`` token maps (-1: the last,
            after the final LayerNorm).
        drop_rate / drop_path_rate: dropout in the MLPs and stochastic depth on each branch.
        norm_cfg / act_cfg: norm and MLP activation (LN, GELU).
        patch_cfg: overrides for the :class:`PatchEmbed`; layer_cfgs: per-block overrides (a dict for all).
    """
    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(embed_dims=512, num_layers=8, tokens_mlp_dims=256,
                                             channels_mlp_dims=2048)),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=768, num_layers=12, tokens_mlp_dims=384,
                                            channels_mlp_dims=3072)),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=1024, num_layers=24, tokens_mlp_dims=512,
                                             channels_mlp_dims=4096)),
    }

    def __init__(self, arch: str | dict = 'base', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0., drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN'), act_cfg: dict = dict(type='GELU'), patch_cfg: dict = dict(),
                 layer_cfgs: dict | Sequence[dict] = dict(), init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        keys = {'embed_dims', 'num_layers', 'tokens_mlp_dims', 'channels_mlp_dims'}
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ConfigError(f'MlpMixer arch {arch!r} is unknown.{did_you_mean(arch, self.arch_zoo)} '
                                  f'Choose one of {", ".join(self.arch_zoo)}, or give a dict of '
                                  f'{", ".join(sorted(keys))}.')
            arch = self.arch_zoo[arch.lower()]
        elif not isinstance(arch, dict) or set(arch) != keys:
            raise ConfigError(f'MlpMixer arch must be a name or a dict of exactly {", ".join(sorted(keys))}, '
                              f'got {arch!r}')
        self.arch_settings = arch
        self.embed_dims, self.num_layers = arch['embed_dims'], arch['num_layers']
        self.img_size = to_2tuple(img_size)
        self.patch_embed = PatchEmbed(**{**dict(input_size=img_size, embed_dims=self.embed_dims, conv_type='Conv2d',
                                                kernel_size=patch_size, stride=patch_size), **patch_cfg})
        self.patch_resolution = self.patch_embed.init_out_size
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = tuple(i + self.num_layers if i < 0 else i for i in indices)
        if any(not 0 <= i < self.num_layers for i in self.out_indices):
            raise ConfigError(f'MlpMixer out_indices {tuple(indices)} out of range for {self.num_layers} blocks')
        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * self.num_layers
        self.layers = nn.ModuleList(
            MixerBlock(**{**dict(num_tokens=num_patches, embed_dims=self.embed_dims,
                                 tokens_mlp_dims=arch['tokens_mlp_dims'], channels_mlp_dims=arch['channels_mlp_dims'],
                                 drop_rate=drop_rate, drop_path_rate=drop_path_rate, act_cfg=act_cfg,
                                 norm_cfg=norm_cfg), **cfg})
            for cfg in layer_cfgs)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, self.embed_dims, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.stage_channels = (self.embed_dims,) * self.num_layers
        self.stage_reductions = (None,) * self.num_layers   # token maps, not spatial ones

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f'MlpMixer was built for {self.img_size} inputs (its token-mixing MLPs are tied to '
                             f'the number of patches), got {tuple(x.shape[2:])}: resize the images or build it '
                             f'with img_size={tuple(x.shape[2:])}')
        x, _ = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.num_layers - 1:
                x = self.norm1(x)
            if i in self.out_indices:
                outs.append(x.transpose(1, 2))
        return tuple(outs)

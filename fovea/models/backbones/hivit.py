"""HiViT (Zhang et al., "HiViT: A Simpler and More Efficient Design of Hierarchical Vision Transformer",
ICLR 2023) with MMPretrain's class, ``arch`` strings, arguments and state-dict keys.

A hierarchical ViT without window attention: each 16x16 patch is embedded as a 4x4 grid of inner tokens,
two MLP-only stages (``BlockWithRPE`` without attention) and ``PatchMerge`` steps shrink it to one token,
and the main stage is a plain global-attention transformer on the patch tokens (optionally with a
relative position bias, ``rpe``). Because a patch never mixes with another before the main stage, patches
can be dropped right after the embedding (MAE, iTPN: :mod:`fovea.models.selfsup.mae` / ``itpn``).

State-dict keys: ``patch_embed.{proj,norm}``, ``pos_embed``, ``blocks.<i>`` (MLP blocks, merges and
attention blocks in one list: ``norm1``, ``attn.{qkv,proj,relative_position_bias_table}``, ``norm2``,
``mlp.{fc1,fc2}``, ``gamma_1``/``gamma_2``; merges ``norm``, ``reduction``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.patch_embed import resize_pos_embed, to_2tuple
from fovea.models.layers.transformer import MultiheadAttention
from fovea.models.layers.window_attention import relative_position_index
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['HiViT', 'BlockWithRPE', 'PatchMerge']


class HiViTAttention(MultiheadAttention):
    """Global multi-head attention over an ``input_size`` x ``input_size`` patch grid, with a learned
    relative position bias table when ``rpe`` (used only when ``forward`` is given ``rpe_index``:
    a masked image has fewer tokens than the grid)."""

    def __init__(self, input_size: int | None, dim: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0., proj_drop: float = 0., rpe: bool = True):
        super().__init__(dim, num_heads, attn_drop=attn_drop, proj_drop=proj_drop, qkv_bias=qkv_bias,
                         qk_scale=qk_scale)
        self.relative_position_bias_table = None
        if rpe:
            if not input_size:
                raise ConfigError('HiViT attention with rpe=True needs the patch grid size (input_size).')
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * input_size - 1) ** 2, num_heads))
            # derived from the grid: rebuilt, not saved (MMPretrain's checkpoints carry it; dropped on load)
            self.register_buffer('relative_position_index', relative_position_index((input_size, input_size)),
                                 persistent=False)

    def init_weights(self) -> None:
        super().init_weights()
        if self.relative_position_bias_table is not None:
            nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        state_dict.pop(prefix + 'relative_position_index', None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor, rpe_index: bool | None = None) -> torch.Tensor:
        bias = None
        if rpe_index and self.relative_position_bias_table is not None:
            n = self.relative_position_index.shape[0]
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
            bias = bias.permute(2, 0, 1).unsqueeze(0).to(x.dtype)
        return super().forward(x, attn_mask=bias)


class Mlp(nn.Module):
    """fc1 -> act -> fc2 -> dropout (HiViT's MLP, its ``fc1``/``fc2`` names)."""

    def __init__(self, in_features: int, hidden_features: int, act_cfg: dict = dict(type='GELU'), drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop) if drop > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.act(self.fc1(x))))


class BlockWithRPE(nn.Module):
    """A pre-norm block: ``x + attn(norm1(x))`` (only when ``num_heads > 0``) then ``x + mlp(norm2(x))``,
    each branch scaled by ``gamma_1``/``gamma_2`` when ``layer_scale_init_value > 0``. MMPretrain's
    positional arguments (``input_size, dim, num_heads, mlp_ratio, qkv_bias, qk_scale``)."""

    def __init__(self, input_size: int | None, dim: int, num_heads: int = 0, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, qk_scale: float | None = None, drop: float = 0., attn_drop: float = 0.,
                 drop_path: float = 0., rpe: bool = True, layer_scale_init_value: float = 0.,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN')):
        super().__init__()
        with_attn = num_heads > 0
        self.norm1 = build_norm_layer(norm_cfg, dim)[1] if with_attn else None
        self.attn = HiViTAttention(input_size, dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                                   attn_drop=attn_drop, proj_drop=drop, rpe=rpe) if with_attn else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_cfg=act_cfg, drop=drop)
        scaled = layer_scale_init_value > 0
        self.gamma_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value))) if scaled and with_attn \
            else None
        self.gamma_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value))) if scaled else None

    def forward(self, x: torch.Tensor, rpe_index: bool | None = None) -> torch.Tensor:
        if self.attn is not None:
            y = self.attn(self.norm1(x), rpe_index)
            x = x + self.drop_path(y if self.gamma_1 is None else self.gamma_1 * y)
        y = self.mlp(self.norm2(x))
        return x + self.drop_path(y if self.gamma_2 is None else self.gamma_2 * y)


class HiViTPatchEmbed(nn.Module):
    """Each ``patch_size`` patch as an ``inner_patches`` x ``inner_patches`` grid of tokens:
    (B, C, H, W) -> (B, H/p * W/p, inner, inner, embed_dim)."""

    def __init__(self, img_size: tuple[int, int], patch_size: int = 16, inner_patches: int = 4, in_chans: int = 3,
                 embed_dim: int = 128, norm_cfg: dict | None = None, kernel_size: int | None = None,
                 pad_size: int | None = None):
        super().__init__()
        self.patch_size = to_2tuple(patch_size)
        if self.patch_size[0] % inner_patches or self.patch_size[1] % inner_patches:
            raise ConfigError(f'HiViT patch_size={patch_size} must be a multiple of inner_patches={inner_patches}.')
        self.inner_patches = inner_patches
        self.patches_resolution = (img_size[0] // self.patch_size[0], img_size[1] // self.patch_size[1])
        self.num_patches = self.patches_resolution[0] * self.patches_resolution[1]
        stride = tuple(s // inner_patches for s in self.patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size or stride, stride=stride,
                              padding=pad_size or 0)
        self.norm = build_norm_layer(norm_cfg, embed_dim)[1] if norm_cfg is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        h, w, k = H // self.patch_size[0], W // self.patch_size[1], self.inner_patches
        x = self.proj(x).view(B, -1, h, k, w, k).permute(0, 2, 4, 3, 5, 1).reshape(B, h * w, k, k, -1)
        return x if self.norm is None else self.norm(x)


class PatchMerge(nn.Module):
    """2x2 inner tokens -> one, twice as wide: (B, N, h, w, C) -> (B, N, h/2, w/2, 2C)."""

    def __init__(self, dim: int, norm_cfg: dict):
        super().__init__()
        self.norm = build_norm_layer(norm_cfg, dim * 4)[1]
        self.reduction = nn.Linear(dim * 4, dim * 2, bias=False)

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]],
                      dim=-1)
        return self.reduction(self.norm(x))


@MODELS.register_module()
class HiViT(BaseBackbone):
    """HiViT backbone.

    Args:
        arch: 't'/'tiny', 's'/'small', 'b'/'base', 'l'/'large', or a dict with ``embed_dims`` (main stage
            width), ``depths`` (blocks per stage; the stem stages' MLP blocks come in pairs) and ``num_heads``.
        img_size / patch_size / inner_patches / in_chans: input size, patch size (16), inner grid (4).
        stem_mlp_ratio / mlp_ratio: MLP width ratios of the stem stages (3) and the main stage (4).
        qkv_bias / qk_scale / drop_rate / attn_drop_rate / drop_path_rate: attention and regularisation
            (stochastic depth linear over every block, MLP-only blocks counted twice as MMPretrain does).
        norm_cfg: norm layers (LN).
        out_indices: main-stage blocks whose outputs are returned, as (B, C, H/16, W/16) maps; as in
            MMPretrain, the last entry always names the last block (``[23]`` is the last block of every arch).
        ape / rpe: absolute position embedding (learned) / relative position bias in the attention.
        patch_norm: a norm after the patch embedding.
        frozen_stages: > 0 freezes the patch embedding, position embedding and the first ``frozen_stages``
            entries of ``blocks``.
        kernel_size / pad_size: the patch embedding's convolution (default: stride-sized, no padding).
        layer_scale_init_value: > 0 adds ``gamma_1``/``gamma_2`` layer scales.
    """
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=384, depths=[1, 1, 10], num_heads=6)),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=384, depths=[2, 2, 20], num_heads=6)),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=512, depths=[2, 2, 24], num_heads=8)),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=768, depths=[2, 2, 40], num_heads=12)),
    }
    #: no class token (MMPretrain's attribute; MAE's decoder reads it)
    num_extra_tokens = 0

    def __init__(self, arch: str | dict = 'base', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 inner_patches: int = 4, in_chans: int = 3, stem_mlp_ratio: float = 3., mlp_ratio: float = 4.,
                 qkv_bias: bool = True, qk_scale: float | None = None, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN'),
                 out_indices: int | Sequence[int] = (23,), ape: bool = True, rpe: bool = False,
                 patch_norm: bool = True, frozen_stages: int = -1, kernel_size: int | None = None,
                 pad_size: int | None = None, layer_scale_init_value: float = 0.,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ConfigError(f'HiViT arch {arch!r} is unknown; choose from {sorted(self.arch_zoo)} or give a '
                                  f'dict with embed_dims, depths and num_heads.')
            arch = self.arch_zoo[arch.lower()]
        elif not isinstance(arch, dict) or set(arch) != {'embed_dims', 'depths', 'num_heads'}:
            raise ConfigError(f'A custom HiViT arch is a dict with exactly embed_dims, depths and num_heads, '
                              f'got {arch!r}.')
        self.arch_settings = dict(arch)
        self.embed_dims = arch['embed_dims']
        self.depths = list(arch['depths'])
        self.num_heads = arch['num_heads']
        self.num_stages = len(self.depths)
        self.num_features = self.embed_dims
        self.num_main_blocks = self.depths[-1]
        self.ape, self.rpe, self.patch_size, self.mlp_ratio = ape, rpe, patch_size, mlp_ratio
        if self.embed_dims % 2 ** (self.num_stages - 1):
            raise ConfigError(f'HiViT embed_dims={self.embed_dims} must be divisible by 2 ** {self.num_stages - 1} '
                              f'(the stem stages halve it).')
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        indices[-1] = self.num_main_blocks - 1           # MMPretrain: the last output is the last block
        indices = [i + self.num_main_blocks if i < 0 else i for i in indices]
        bad = [i for i in indices if not 0 <= i < self.num_main_blocks]
        if bad:
            raise ConfigError(f'HiViT out_indices {bad} are out of range: the main stage has '
                              f'{self.num_main_blocks} blocks.')
        self.out_indices = tuple(indices)
        self.stage_channels = (self.embed_dims,) * self.num_main_blocks
        self.stage_reductions = (patch_size,) * self.num_main_blocks

        self.img_size = img_size = to_2tuple(img_size)
        embed_dim = self.embed_dims // 2 ** (self.num_stages - 1)
        self.patch_embed = HiViTPatchEmbed(img_size, patch_size, inner_patches, in_chans, embed_dim,
                                           norm_cfg if patch_norm else None, kernel_size, pad_size)
        Hp, Wp = self.patch_embed.patches_resolution
        if rpe and Hp != Wp:
            raise ConfigError(f'HiViT rpe=True needs a square patch grid, img_size={img_size} gives {Hp}x{Wp}.')
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches, self.num_features)) if ape \
            else None
        self.pos_drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()

        dpr = iter(torch.linspace(0, drop_path_rate, sum(self.depths) + sum(self.depths[:-1]),
                                  device='cpu').tolist())
        self.blocks = nn.ModuleList()
        for stage, depth in enumerate(self.depths):
            main = embed_dim == self.num_features
            for _ in range(depth if main else 2 * depth):          # stem stages: pairs of MLP blocks
                self.blocks.append(BlockWithRPE(
                    Hp, embed_dim, self.num_heads if main else 0, mlp_ratio if main else stem_mlp_ratio,
                    qkv_bias, qk_scale, drop=drop_rate, attn_drop=attn_drop_rate, drop_path=next(dpr), rpe=rpe,
                    layer_scale_init_value=layer_scale_init_value, norm_cfg=norm_cfg))
            if stage + 1 < self.num_stages:
                self.blocks.append(PatchMerge(embed_dim, norm_cfg))
                embed_dim *= 2
        self.frozen_stages = frozen_stages

    @property
    def stem_blocks(self) -> nn.ModuleList:
        return self.blocks[:-self.num_main_blocks]

    @property
    def main_blocks(self) -> nn.ModuleList:
        return self.blocks[-self.num_main_blocks:]

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.init_cfg is None:                         # MMPretrain's own initialisation
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        state_dict.pop(prefix + 'relative_position_index', None)   # MMPretrain's unused copy of the index

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def stem(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Patch-embedded inner tokens (B, N, k, k, C') through the stem: ``(maps, tokens)``, ``maps`` what
        enters each ``PatchMerge`` (finest first), ``tokens`` (B, N, embed_dims) one per patch."""
        maps = []
        for blk in self.stem_blocks:
            if isinstance(blk, PatchMerge):
                maps.append(x)
            x = blk(x)
        return maps, x[..., 0, 0, :]

    def position_embedding(self, hw: tuple[int, int]) -> torch.Tensor:
        """(1, h*w, C) absolute position embedding for an h x w patch grid (bicubic resize if it differs)."""
        return resize_pos_embed(self.pos_embed, self.patch_embed.patches_resolution, hw, mode='bicubic',
                                num_extra_tokens=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        B, _, H, W = x.shape
        hw = (H // self.patch_embed.patch_size[0], W // self.patch_embed.patch_size[1])
        _, x = self.stem(self.patch_embed(x))
        if self.ape:
            x = x + self.position_embedding(hw)
        x = self.pos_drop(x)
        outs = []
        for i, blk in enumerate(self.main_blocks):
            x = blk(x, self.rpe or None)
            if i in self.out_indices:
                outs.append(x.transpose(1, 2).reshape(B, -1, *hw))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages <= 0:
            return
        if self.pos_embed is not None:
            self.pos_embed.requires_grad = False
        frozen = [self.pos_drop, self.patch_embed, *self.blocks[:self.frozen_stages]]
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """(layer id, number of layers) for layer-wise lr decay: the embeddings 0, ``blocks.<i>`` i + 1,
        anything else (a head) the last."""
        num_layers = len(self.blocks) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name == 'pos_embed' or name.startswith('patch_embed'):
            return 0, num_layers
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

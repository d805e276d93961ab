"""MixMIM's hierarchical ViT (Liu et al., "MixMIM: Mixed and Masked Image Modeling for Efficient Visual
Representation Learning", CVPR 2023): Swin-like stages of window attention (no shifts) with a relative
position bias, patch merging between stages, a fixed sin-cos absolute position embedding and a pooled
output. MMPretrain's ``MixMIMTransformer`` arguments and state-dict names.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.patch_embed import PatchEmbed, PatchMerging
from fovea.models.layers.transformer import TransformerEncoderLayer
from fovea.models.layers.window_attention import WindowMSA, window_partition, window_reverse
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['MixMIMTransformer', 'MixMIMBlock', 'MixMIMWindowAttention']


class MixMIMWindowAttention(WindowMSA):
    """Window attention where, given a per-token group ``mask`` (B*nW, N, 1) of 0/1, tokens attend only
    within their own group (the two mixed images of MixMIM pre-training)."""

    def __init__(self, embed_dims: int, window_size, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop_rate: float = 0., proj_drop_rate: float = 0.,
                 init_cfg: dict | None = None):
        super().__init__(embed_dims=embed_dims, window_size=window_size, num_heads=num_heads, qkv_bias=qkv_bias,
                         qk_scale=qk_scale, attn_drop=attn_drop_rate, proj_drop=proj_drop_rate, init_cfg=init_cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B_, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B_, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self.relative_position_bias().to(q.dtype).unsqueeze(0)
        if mask is not None:
            m = mask.reshape(B_, 1, 1, N).to(q.dtype)
            other = 1 - (m * m.transpose(2, 3) + (1 - m) * (1 - m).transpose(2, 3))   # 1 across groups
            bias = bias - other * (65500. if q.dtype == torch.float16 else 1e30)
        attn = ((q * self.scale) @ k.transpose(-2, -1) + bias).softmax(-1)
        if self.training and self.attn_drop:
            attn = nn.functional.dropout(attn, self.attn_drop)
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(B_, N, C)))


class MixMIMBlock(TransformerEncoderLayer):
    """Pre-norm window-attention block on a fixed ``input_resolution`` grid (windows of
    ``min(window_size, resolution)``); ``forward(x, attn_mask=None)`` with a (1, H*W, 1) group mask."""

    def __init__(self, embed_dims: int, input_resolution: Sequence[int], num_heads: int, window_size: int = 7,
                 mlp_ratio: float = 4., num_fcs: int = 2, qkv_bias: bool = True, proj_drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0., act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN'), init_cfg: dict | None = None):
        super().__init__(embed_dims=embed_dims, num_heads=num_heads, feedforward_channels=int(mlp_ratio * embed_dims),
                         drop_rate=proj_drop_rate, attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate,
                         num_fcs=num_fcs, qkv_bias=qkv_bias, act_cfg=act_cfg, norm_cfg=norm_cfg, init_cfg=init_cfg)
        self.input_resolution = tuple(input_resolution)
        self.window_size = min(window_size, *self.input_resolution)
        self.attn = MixMIMWindowAttention(embed_dims, self.window_size, num_heads, qkv_bias=qkv_bias,
                                          attn_drop_rate=attn_drop_rate, proj_drop_rate=proj_drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0. else nn.Identity()

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        H, W = self.input_resolution
        B, L, C = x.shape
        ws = self.window_size
        windows = window_partition(self.ln1(x).view(B, H, W, C), ws).view(-1, ws * ws, C)
        if attn_mask is not None:
            attn_mask = window_partition(attn_mask.repeat(B, 1, 1).view(B, H, W, 1), ws).view(-1, ws * ws, 1)
        out = window_reverse(self.attn(windows, mask=attn_mask).view(-1, ws, ws, C), H, W, ws).view(B, H * W, C)
        x = x + self.drop_path(out)
        return self.ffn(self.ln2(x), identity=x)


class MixMIMLayer(nn.Module):
    """``depth`` blocks then (between stages) patch merging to twice the width."""

    def __init__(self, embed_dims: int, input_resolution: Sequence[int], depth: int, num_heads: int,
                 window_size: int, mlp_ratio: float = 4., qkv_bias: bool = True, proj_drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: Sequence[float] = (0.,),
                 norm_cfg: dict = dict(type='LN'), downsample: bool = False, use_checkpoint: bool = False):
        super().__init__()
        self.input_resolution = tuple(input_resolution)
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList(
            MixMIMBlock(embed_dims, input_resolution, num_heads, window_size=window_size, mlp_ratio=mlp_ratio,
                        qkv_bias=qkv_bias, proj_drop_rate=proj_drop_rate, attn_drop_rate=attn_drop_rate,
                        drop_path_rate=drop_path_rate[i], norm_cfg=norm_cfg) for i in range(depth))
        self.downsample = PatchMerging(embed_dims, 2 * embed_dims, norm_cfg=norm_cfg) if downsample else None

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        for blk in self.blocks:
            if self.use_checkpoint and x.requires_grad:
                x = torch.utils.checkpoint.checkpoint(blk, x, attn_mask, use_reentrant=False)
            else:
                x = blk(x, attn_mask=attn_mask)
        if self.downsample is not None:
            x, _ = self.downsample(x, self.input_resolution)
        return x


@MODELS.register_module()
class MixMIMTransformer(BaseBackbone):
    """MixMIM backbone: ``forward(x)`` -> ``((B, C),)``, the normed tokens' mean.

    Args (MMPretrain's): arch ('base', 'large', 'huge' or a dict with embed_dims, depths, num_heads),
    mlp_ratio, img_size, patch_size (4), in_channels, window_size ([14, 14, 14, 7]), qkv_bias,
    patch_cfg, norm_cfg, drop_rate, drop_path_rate, attn_drop_rate, use_checkpoint.
    """

    arch_zoo = {
        **dict.fromkeys(['b', 'base'], dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32])),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48])),
        **dict.fromkeys(['h', 'huge'], dict(embed_dims=352, depths=[2, 2, 18, 2], num_heads=[11, 22, 44, 88])),
    }

    def __init__(self, arch: str | dict = 'base', mlp_ratio: float = 4, img_size: int = 224, patch_size: int = 4,
                 in_channels: int = 3, window_size: Sequence[int] = (14, 14, 14, 7), qkv_bias: bool = True,
                 patch_cfg: dict | None = None, norm_cfg: dict = dict(type='LN'), drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, attn_drop_rate: float = 0.0, use_checkpoint: bool = False,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ConfigError(f'MixMIMTransformer has no arch {arch!r}.{did_you_mean(arch, self.arch_zoo)} '
                                  f'Choose from {", ".join(sorted(self.arch_zoo))}.')
            arch = self.arch_zoo[arch.lower()]
        elif not isinstance(arch, dict) or not {'embed_dims', 'depths', 'num_heads'} <= set(arch):
            raise ConfigError(f'A custom MixMIMTransformer arch needs embed_dims, depths and num_heads, got {arch!r}.')
        self.arch_settings = arch
        self.embed_dims, self.depths, self.num_heads = arch['embed_dims'], list(arch['depths']), list(arch['num_heads'])
        self.encoder_stride = 32
        self.num_layers = len(self.depths)
        self.window_size = list(window_size)
        self.patch_embed = PatchEmbed(**{**dict(in_channels=in_channels, input_size=img_size,
                                                embed_dims=self.embed_dims, conv_type='Conv2d', kernel_size=patch_size,
                                                stride=patch_size, norm_cfg=dict(type='LN')), **(patch_cfg or {})})
        self.patch_resolution = self.patch_embed.init_out_size
        dpr = torch.linspace(0, drop_path_rate, sum(self.depths), device='cpu').tolist()
        self.layers = nn.ModuleList(
            MixMIMLayer(int(self.embed_dims * 2 ** i),
                        (self.patch_resolution[0] // 2 ** i, self.patch_resolution[1] // 2 ** i),
                        self.depths[i], self.num_heads[i], self.window_size[i], mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                        proj_drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                        drop_path_rate=dpr[sum(self.depths[:i]):sum(self.depths[:i + 1])], norm_cfg=norm_cfg,
                        downsample=i < self.num_layers - 1, use_checkpoint=use_checkpoint)
            for i in range(self.num_layers))
        self.num_features = int(self.embed_dims * 2 ** (self.num_layers - 1))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.absolute_pos_embed = nn.Parameter(torch.zeros(1, self.num_patches, self.embed_dims), requires_grad=False)
        self.norm = build_norm_layer(norm_cfg, self.num_features)[1]
        self.stage_channels = (self.num_features,)
        self.stage_reductions = (None,)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x, _ = self.patch_embed(x)
        x = self.drop_after_pos(x + self.absolute_pos_embed)
        for layer in self.layers:
            x = layer(x, attn_mask=None)
        return (self.norm(x).mean(1),)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """MMPretrain's numbering: stem 0, each block its own depth, merging with its stage's last block."""
        num_layers = sum(self.depths) + 2
        if not param_name.startswith(prefix):
            return (num_layers - 2 if param_name.startswith('neck') else num_layers - 1), num_layers
        name = param_name[len(prefix):]
        if any(s in name for s in ('patch_embed', 'absolute_pos_embed', 'pos_embed')):
            return 0, num_layers
        if name.startswith('layers'):
            layer_id, block_id = int(name.split('.')[1]), name.split('.')[3]
            if block_id in ('downsample', 'reduction', 'norm'):
                return sum(self.depths[:layer_id + 1]), num_layers
            return sum(self.depths[:layer_id]) + int(block_id) + 1, num_layers
        return num_layers - 2, num_layers

"""XCiT (El-Nouby et al., "XCiT: Cross-Covariance Image Transformers", NeurIPS 2021).

A convolutional patch embedding (stride-2 3x3 conv + BN stages), a Fourier position encoding, ``depth``
blocks of cross-covariance attention (attention between channels, not tokens: linear in the number of
tokens), local patch interaction (two depthwise 3x3 convs) and an MLP, each with a layer scale; then a
class token and ``cls_attn_layers`` class-attention blocks (CaiT's: only the class token queries).
MMPretrain's arguments and module names (``xca_layers``, ``ca_layers``, ``local_mp``, ``gamma1/2/3``), so
its checkpoints load unchanged.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.vision_transformer import _out_indices
from fovea.models.base import BaseModule
from fovea.models.layers.conv import ConvModule, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.patch_embed import to_2tuple
from fovea.models.layers.transformer import FFN
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['XCiT']


class ClassAttention(BaseModule):
    """Attention with the class token (``x[:, 0]``) as the only query; returns its update (B, 1, C)."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, attn_drop: float = 0.,
                 proj_drop: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        heads = lambda t: t.reshape(B, -1, self.num_heads, C // self.num_heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(heads(self.q(x[:, :1])), heads(self.k(x)), heads(self.v(x)),
                                             dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, 1, C)))


class XCA(BaseModule):
    """Cross-covariance attention: per head, softmax(temperature * q^T k) over L2-normalised channel
    vectors (a head_dims x head_dims map) mixes the channels of ``v``."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, attn_drop: float = 0.,
                 proj_drop: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        # (3, B, heads, head_dims, N): channels as the "tokens" of the attention
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 4, 1).unbind(0)
        attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * self.temperature
        out = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(out.permute(0, 3, 1, 2).reshape(B, N, C)))


class LPI(BaseModule):
    """Local patch interaction: depthwise conv -> act -> BN -> depthwise conv on the token grid."""

    def __init__(self, in_features: int, out_features: int | None = None, kernel_size: int = 3,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        out_features = out_features or in_features
        pad = kernel_size // 2
        self.conv1 = ConvModule(in_features, in_features, kernel_size, padding=pad, groups=in_features, bias=True,
                                norm_cfg=norm_cfg, act_cfg=act_cfg, order=('conv', 'act', 'norm'))
        self.conv2 = ConvModule(in_features, out_features, kernel_size, padding=pad, groups=out_features,
                                act_cfg=None)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        x = self.conv2(self.conv1(x.transpose(1, 2).reshape(B, C, H, W)))
        return x.reshape(B, -1, N).transpose(1, 2)


def _scale(dim: int, value: float) -> nn.Parameter:
    return nn.Parameter(torch.full((dim,), float(value)))


class XCABlock(BaseModule):
    """``x + g1 * xca(norm1(x))``, ``x + g3 * lpi(norm3(x))``, ``x + g2 * ffn(norm2(x))`` on patch tokens."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = False, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0., layer_scale_init_value: float = 1.,
                 bn_norm_cfg: dict = dict(type='BN'), norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = XCA(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm3 = build_norm_layer(norm_cfg, dim)[1]
        self.local_mp = LPI(dim, norm_cfg=bn_norm_cfg, act_cfg=act_cfg)
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.ffn = FFN(dim, int(dim * mlp_ratio), act_cfg=act_cfg, ffn_drop=drop, add_identity=False)
        self.gamma1 = _scale(dim, layer_scale_init_value)
        self.gamma3 = _scale(dim, layer_scale_init_value)
        self.gamma2 = _scale(dim, layer_scale_init_value)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = x + self.drop_path(self.gamma1 * self.attn(self.norm1(x)))
        x = x + self.drop_path(self.gamma3 * self.local_mp(self.norm3(x), H, W))
        return x + self.drop_path(self.gamma2 * self.ffn(self.norm2(x)))


class ClassAttentionBlock(BaseModule):
    """Class attention then an MLP on the class token alone; ``tokens_norm`` also normalises the patch
    tokens after the attention (the p8 models' setting)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = False, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0., layer_scale_init_value: float = 1.,
                 tokens_norm: bool = False, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.norm1 = build_norm_layer(norm_cfg, dim)[1]
        self.attn = ClassAttention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, dim)[1]
        self.ffn = FFN(dim, int(dim * mlp_ratio), act_cfg=act_cfg, ffn_drop=drop, add_identity=False)
        if layer_scale_init_value > 0:
            self.gamma1, self.gamma2 = _scale(dim, layer_scale_init_value), _scale(dim, layer_scale_init_value)
        else:
            self.gamma1 = self.gamma2 = 1.
        self.tokens_norm = tokens_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        x = x + self.drop_path(self.gamma1 * torch.cat([self.attn(normed), normed[:, 1:]], dim=1))
        x = self.norm2(x) if self.tokens_norm else torch.cat([self.norm2(x[:, :1]), x[:, 1:]], dim=1)
        cls = self.gamma2 * self.ffn(x[:, :1])
        return x + self.drop_path(torch.cat([cls, x[:, 1:]], dim=1))


class PositionalEncodingFourier(BaseModule):
    """Sine/cosine features of normalised (row, column) coordinates, ``hidden_dim`` each, projected to
    ``dim`` by a 1x1 conv (``token_projection``)."""

    def __init__(self, hidden_dim: int = 32, dim: int = 768, temperature: int = 10000, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.token_projection = ConvModule(hidden_dim * 2, dim, 1, act_cfg=None)
        self.hidden_dim, self.dim, self.temperature = hidden_dim, dim, temperature

    def forward(self, B: int, H: int, W: int) -> torch.Tensor:
        device = self.token_projection.conv.weight.device
        eps, scale = 1e-6, 2 * math.pi
        y = torch.arange(1, H + 1, device=device, dtype=torch.float32)
        x = torch.arange(1, W + 1, device=device, dtype=torch.float32)
        y, x = (y / (H + eps) * scale)[:, None].expand(H, W), (x / (W + eps) * scale)[None].expand(H, W)
        dim_t = self.temperature ** (2 * torch.div(torch.arange(self.hidden_dim, device=device), 2,
                                                   rounding_mode='floor').float() / self.hidden_dim)

        def features(pos: torch.Tensor) -> torch.Tensor:   # (H, W) -> (H, W, hidden_dim), sin/cos interleaved
            pos = pos[..., None] / dim_t
            return torch.stack([pos[..., 0::2].sin(), pos[..., 1::2].cos()], dim=-1).flatten(2)

        pos = torch.cat([features(y), features(x)], dim=-1).permute(2, 0, 1)[None]
        return self.token_projection(pos.to(self.token_projection.conv.weight.dtype)).expand(B, -1, -1, -1)


class ConvPatchEmbed(BaseModule):
    """Stride-2 3x3 conv + BN stages (GELU between them) down to ``patch_size``: widths dims/8, /4, /2, dims
    for patch 16, dims/4, /2, dims for patch 8."""

    def __init__(self, img_size: int | Sequence[int] = 224, patch_size: int = 16, in_channels: int = 3,
                 embed_dims: int = 768, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='GELU'),
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if patch_size not in (8, 16):
            raise ConfigError(f'XCiT patch_size must be 16 or 8 (its convolutional patch embedding), got {patch_size}')
        self.img_size, self.patch_size = to_2tuple(img_size), patch_size
        widths = [in_channels] + [embed_dims // d for d in ((8, 4, 2, 1) if patch_size == 16 else (4, 2, 1))]
        self.proj = nn.Sequential(*(
            ConvModule(c_in, c_out, 3, stride=2, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg if i < len(widths) - 2 else None)
            for i, (c_in, c_out) in enumerate(zip(widths, widths[1:]))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


@MODELS.register_module()
class XCiT(BaseBackbone):
    """XCiT backbone with MMPretrain's arguments (no arch table: its configs give the sizes).

    Args:
        img_size / patch_size (16 or 8) / in_channels: input and patch embedding.
        embed_dims / depth / num_heads / mlp_ratio / qkv_bias: the XCA blocks (``depth`` of them).
        cls_attn_layers: class-attention blocks after them.
        drop_rate / attn_drop_rate: dropout; drop_path_rate: stochastic depth, the same rate in every XCA
            block (MMPretrain's; the class-attention blocks have none).
        use_pos_embed: add the Fourier position encoding.
        layer_scale_init_value: initial layer scales.
        tokens_norm: class-attention blocks normalise every token, not only the class token.
        out_type: 'cls_token' (class-attention outputs only), 'featmap', 'avg_featmap' or 'raw'.
        out_indices: layers whose outputs are returned (XCA blocks first, then class-attention blocks).
        final_norm: LayerNorm after the last layer.
        frozen_stages: 0 freezes the embeddings, ``i`` also the first ``i - 1`` layers (MMPretrain's count).
        bn_norm_cfg / norm_cfg / act_cfg: the batch norms (patch embedding, LPI), the LayerNorms, the activation.
    """

    def __init__(self, img_size: int | Sequence[int] = 224, patch_size: int = 16, in_channels: int = 3,
                 embed_dims: int = 768, depth: int = 12, cls_attn_layers: int = 2, num_heads: int = 12,
                 mlp_ratio: float = 4., qkv_bias: bool = True, drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., use_pos_embed: bool = True, layer_scale_init_value: float = 1.,
                 tokens_norm: bool = False, out_type: str = 'cls_token', out_indices: int | Sequence[int] = (-1,),
                 final_norm: bool = True, frozen_stages: int = -1, bn_norm_cfg: dict = dict(type='BN'),
                 norm_cfg: dict = dict(type='LN', eps=1e-6), act_cfg: dict = dict(type='GELU'),
                 init_cfg: dict | list[dict] | None = dict(type='TruncNormal', layer='Linear')):
        super().__init__(init_cfg)
        img_size = to_2tuple(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ConfigError(f'XCiT patch_size ({patch_size}) must divide img_size {img_size} evenly')
        if out_type not in ('raw', 'featmap', 'avg_featmap', 'cls_token'):
            raise ConfigError(f"XCiT out_type must be 'raw', 'featmap', 'avg_featmap' or 'cls_token', got {out_type!r}")
        self.embed_dims, self.out_type, self.patch_size = embed_dims, out_type, patch_size
        self.patch_embed = ConvPatchEmbed(img_size, patch_size, in_channels, embed_dims, bn_norm_cfg, act_cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.use_pos_embed = use_pos_embed
        if use_pos_embed:
            self.pos_embed = PositionalEncodingFourier(dim=embed_dims)
        self.pos_drop = nn.Dropout(drop_rate)
        common = dict(dim=embed_dims, num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop_rate,
                      attn_drop=attn_drop_rate, layer_scale_init_value=layer_scale_init_value, norm_cfg=norm_cfg,
                      act_cfg=act_cfg)
        self.xca_layers = nn.ModuleList(XCABlock(drop_path=drop_path_rate, bn_norm_cfg=bn_norm_cfg, **common)
                                        for _ in range(depth))
        self.ca_layers = nn.ModuleList(ClassAttentionBlock(tokens_norm=tokens_norm, **common)
                                       for _ in range(cls_attn_layers))
        self.num_layers = depth + cls_attn_layers
        self.final_norm = final_norm
        if final_norm:
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.out_indices = tuple(_out_indices(out_indices, self.num_layers, 'XCiT'))
        if out_type == 'cls_token' and min(self.out_indices) < depth:
            raise ConfigError(f"XCiT out_type='cls_token': out_indices {list(self.out_indices)} name XCA layers "
                              f'(0..{depth - 1}), which have no class token; choose {depth}..{self.num_layers - 1} '
                              "or out_type='featmap'")
        if frozen_stages > self.num_layers + 1:
            raise ConfigError(f'XCiT frozen_stages must be at most {self.num_layers + 1}, got {frozen_stages}')
        self.frozen_stages = frozen_stages
        vector = out_type in ('cls_token', 'avg_featmap', 'raw')
        self.stage_channels = (embed_dims,) * self.num_layers
        self.stage_reductions = (None if vector else patch_size,) * self.num_layers
        self._freeze_stages()

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        first = len(self.xca_layers) if self.out_type == 'cls_token' else 0
        return tuple(range(first, self.num_layers))

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            nn.init.trunc_normal_(self.cls_token, std=.02)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        for m in ([self.pos_embed] if self.use_pos_embed else []) + [self.patch_embed, self.pos_drop]:
            freeze_module(m)
        if self.frozen_stages > len(self.xca_layers):
            self.cls_token.requires_grad = False
        layers = [*self.xca_layers, *self.ca_layers]
        for i in range(1, self.frozen_stages):
            if i <= len(layers):
                freeze_module(layers[i - 1])
        if self.frozen_stages == self.num_layers and self.final_norm:
            freeze_module(self.norm)

    def forward(self, x: torch.Tensor) -> tuple:
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        if self.use_pos_embed:
            x = x + self.pos_embed(B, *hw).flatten(2).transpose(1, 2)
        x = self.pos_drop(x)
        outs = []
        for i, layer in enumerate(self.xca_layers):
            x = layer(x, *hw)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw, with_cls_token=False))
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)
        for i, layer in enumerate(self.ca_layers):
            x = layer(x)
            if i == len(self.ca_layers) - 1 and self.final_norm:
                x = self.norm(x)
            if i + len(self.xca_layers) in self.out_indices:
                outs.append(self._format_output(x, hw, with_cls_token=True))
        return tuple(outs)

    def _format_output(self, x: torch.Tensor, hw: tuple[int, int], with_cls_token: bool) -> torch.Tensor:
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patches = x[:, 1:] if with_cls_token else x
        if self.out_type == 'featmap':
            return patches.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2)
        return patches.mean(dim=1)

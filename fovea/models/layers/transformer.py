"""Transformer building blocks shared by every attention backbone (ViT, DeiT, Swin, MobileViT,
and the self-supervised / multimodal models built on them).

* :class:`MultiheadAttention` - self-attention on :func:`torch.nn.functional.scaled_dot_product_attention`
  (fused flash / memory-efficient kernels where the device has them), optional mask.
* :class:`FFN` - the position-wise MLP (Linear -> act -> dropout -> Linear -> dropout).
* :class:`LayerScale` - per-channel residual scaling (Touvron et al., "Going deeper with Image
  Transformers", ICCV 2021).
* :class:`TransformerEncoderLayer` - one pre-norm encoder layer (Vaswani et al., "Attention Is All
  You Need", NeurIPS 2017; Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

Module and argument names follow MMCV/MMPretrain (``qkv``, ``proj``, ``ffn.layers.0.0``, ``ln1``,
``gamma1``), so MMPretrain checkpoints load by name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.utils.errors import ConfigError

__all__ = ['MultiheadAttention', 'FFN', 'LayerScale', 'TransformerEncoderLayer', 'build_dropout']


def build_dropout(cfg: dict | float | None) -> nn.Module:
    """``dict(type='DropPath', drop_prob=p)`` or ``dict(type='Dropout', drop_prob=p)``; p == 0 gives Identity."""
    if cfg is None:
        return nn.Identity()
    if isinstance(cfg, (int, float)):
        cfg = dict(type='DropPath', drop_prob=float(cfg))
    cfg = dict(cfg)
    kind = cfg.pop('type', 'DropPath')
    p = float(cfg.pop('drop_prob', cfg.pop('p', 0.)))
    if kind not in ('DropPath', 'Dropout'):
        raise ConfigError(f"Unknown dropout layer type {kind!r}; use 'DropPath' or 'Dropout'.")
    if p == 0:
        return nn.Identity()
    return DropPath(p) if kind == 'DropPath' else nn.Dropout(p)


class LayerScale(nn.Module):
    """Multiply by a learnable per-channel vector initialised to ``layer_scale_init_value``.

    Args:
        dim: channels.
        layer_scale_init_value: initial value of every entry.
        inplace: scale in place.
        data_format: 'channels_last' (..., C) or 'channels_first' (B, C, H, W).
    """

    def __init__(self, dim: int, layer_scale_init_value: float = 1e-5, inplace: bool = False,
                 data_format: str = 'channels_last'):
        super().__init__()
        if data_format not in ('channels_last', 'channels_first'):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.inplace = inplace
        self.data_format = data_format
        self.weight = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.view(-1, 1, 1) if self.data_format == 'channels_first' else self.weight
        return x.mul_(w) if self.inplace else x * w


class MultiheadAttention(BaseModule):
    """Multi-head self-attention with a fused qkv projection.

    Args:
        embed_dims: attention width (heads x head dims).
        num_heads: parallel heads.
        input_dims: input width when it differs from ``embed_dims``.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after the output projection.
        dropout_layer: applied to the output before the caller's residual sum (DropPath or Dropout).
        qkv_bias / proj_bias: biases of the two projections.
        qk_scale: overrides the softmax temperature ``head_dims ** -0.5``.
        v_shortcut: add ``v`` to the output (when ``input_dims != embed_dims``, T2T-ViT).
        layer_scale_init_value: > 0 adds a LayerScale (``gamma1``) on the output.

    ``forward(x, attn_mask=None)``: ``x`` (B, N, C); ``attn_mask`` broadcastable to (B, heads, N, N),
    boolean (True = may attend) or additive float. Returns (B, N, embed_dims).
    """

    def __init__(self, embed_dims: int, num_heads: int, input_dims: int | None = None, attn_drop: float = 0.,
                 proj_drop: float = 0., dropout_layer: dict | None = dict(type='Dropout', drop_prob=0.),
                 qkv_bias: bool = True, qk_scale: float | None = None, proj_bias: bool = True,
                 v_shortcut: bool = False, layer_scale_init_value: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ConfigError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}.')
        self.input_dims = input_dims or embed_dims
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = qk_scale
        self.v_shortcut = v_shortcut
        self.qkv = nn.Linear(self.input_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()
        self.out_drop = build_dropout(dropout_layer)
        self.gamma1 = (LayerScale(embed_dims, layer_scale_init_value) if layer_scale_init_value > 0
                       else nn.Identity())

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                             dropout_p=self.attn_drop if self.training else 0.,
                                             scale=self.scale)
        out = out.transpose(1, 2).reshape(B, N, self.embed_dims)
        out = self.out_drop(self.gamma1(self.proj_drop(self.proj(out))))
        if self.v_shortcut:
            out = v.squeeze(1) + out
        return out


class FFN(BaseModule):
    """Position-wise feed-forward network with an optional residual (MMCV's FFN).

    ``num_fcs - 1`` blocks of Linear -> act -> Dropout, then Linear -> Dropout; children are
    ``layers.0.0`` ... ``layers.1`` as in MMCV.

    Args:
        embed_dims: input and output width.
        feedforward_channels: hidden width.
        num_fcs: number of linear layers (>= 2).
        act_cfg: activation config.
        ffn_drop: dropout after each linear layer.
        dropout_layer: DropPath/Dropout on the branch before the residual sum.
        add_identity: add the residual inside ``forward``.
        layer_scale_init_value: > 0 adds a LayerScale (``gamma2``) on the branch.
    """

    def __init__(self, embed_dims: int = 256, feedforward_channels: int = 1024, num_fcs: int = 2,
                 act_cfg: dict | None = dict(type='ReLU', inplace=True), ffn_drop: float = 0.,
                 dropout_layer: dict | None = None, add_identity: bool = True,
                 layer_scale_init_value: float = 0., init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if num_fcs < 2:
            raise ConfigError(f'FFN needs num_fcs >= 2, got {num_fcs}.')
        self.embed_dims = embed_dims
        self.feedforward_channels = feedforward_channels
        layers: list[nn.Module] = []
        in_channels = embed_dims
        drop = (lambda: nn.Dropout(ffn_drop)) if ffn_drop > 0 else nn.Identity  # same slots, no call when 0
        for _ in range(num_fcs - 1):
            layers.append(nn.Sequential(nn.Linear(in_channels, feedforward_channels),
                                        build_activation_layer(act_cfg), drop()))
            in_channels = feedforward_channels
        layers.append(nn.Linear(feedforward_channels, embed_dims))
        layers.append(drop())
        self.layers = nn.Sequential(*layers)
        self.dropout_layer = build_dropout(dropout_layer)
        self.add_identity = add_identity
        self.gamma2 = (LayerScale(embed_dims, layer_scale_init_value) if layer_scale_init_value > 0
                       else nn.Identity())

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.dropout_layer(self.gamma2(self.layers(x)))
        if not self.add_identity:
            return out
        return (x if identity is None else identity) + out


class TransformerEncoderLayer(BaseModule):
    """One pre-norm encoder layer: ``x + attn(ln1(x))`` then ``x + ffn(ln2(x))`` (MMPretrain's layer).

    Args:
        embed_dims: token width.
        num_heads: attention heads.
        feedforward_channels: hidden width of the FFN.
        layer_scale_init_value: > 0 enables LayerScale on both branches.
        drop_rate: dropout after the attention projection and in the FFN.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth of both residual branches.
        num_fcs: linear layers in the FFN.
        qkv_bias: bias of the qkv projection.
        ffn_type: 'origin' (the only FFN fovea implements).
        act_cfg / norm_cfg: FFN activation and the norm layers.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 layer_scale_init_value: float = 0., drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., num_fcs: int = 2, qkv_bias: bool = True, ffn_type: str = 'origin',
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN'),
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if ffn_type != 'origin':
            raise ConfigError(f"TransformerEncoderLayer ffn_type={ffn_type!r} is not supported; use 'origin'.")
        self.embed_dims = embed_dims
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = MultiheadAttention(embed_dims, num_heads, attn_drop=attn_drop_rate, proj_drop=drop_rate,
                                       dropout_layer=dict(type='DropPath', drop_prob=float(drop_path_rate)),
                                       qkv_bias=qkv_bias, layer_scale_init_value=layer_scale_init_value)
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs=num_fcs, ffn_drop=drop_rate,
                       dropout_layer=dict(type='DropPath', drop_prob=float(drop_path_rate)), act_cfg=act_cfg,
                       layer_scale_init_value=layer_scale_init_value)

    @property
    def norm1(self) -> nn.Module:
        return self.ln1

    @property
    def norm2(self) -> nn.Module:
        return self.ln2

    def init_weights(self) -> None:
        super().init_weights()
        for m in self.ffn.modules():  # MMPretrain's FFN initialisation
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), attn_mask=attn_mask)
        return self.ffn(self.ln2(x), identity=x)

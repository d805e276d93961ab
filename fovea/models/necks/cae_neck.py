"""CAE's neck: a latent regressor (mask queries cross-attending to visible and masked tokens) and a
decoder from the predicted latents to the tokenizer's code logits (MMPretrain's ``CAENeck``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.beit import BEiTTransformerEncoderLayer
from fovea.models.backbones.vision_transformer import _linspace
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.transformer import FFN
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['CAENeck', 'CrossMultiheadAttention', 'CAETransformerRegressorLayer']


class CrossMultiheadAttention(BaseModule):
    """Attention of queries ``x`` over separate keys ``k`` and values ``v`` (bias-free ``q``/``k``/``v``
    projections; with ``qkv_bias`` learned q and v biases, k's fixed at 0)."""

    def __init__(self, embed_dims: int, num_heads: int = 8, qkv_bias: bool = False, qk_scale: float | None = None,
                 attn_drop: float = 0., proj_drop: float = 0.):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.q = nn.Linear(embed_dims, embed_dims, bias=False)
        self.k = nn.Linear(embed_dims, embed_dims, bias=False)
        self.v = nn.Linear(embed_dims, embed_dims, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(embed_dims))
            self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q = F.linear(x, self.q.weight, self.q_bias)
        k = F.linear(k, self.k.weight)
        v = F.linear(v, self.v.weight, self.v_bias)
        q, k, v = (t.reshape(B, t.shape[1], self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale,
                                             dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class CAETransformerRegressorLayer(BaseModule):
    """``x = x_q + gamma_1 * cross_attn(norm(x_q + pos_q), norm(x_kv + pos_k), norm(x_kv))``, then a
    norm and ``x + gamma_2 * ffn(x)`` (MMPretrain's names: ``norm1_q_cross``, ``gamma_1_cross``...)."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, num_fcs: int = 2,
                 qkv_bias: bool = False, qk_scale: float | None = None, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0., layer_scale_init_value: float | None = 0.0,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN', eps=1e-6)):
        super().__init__()
        self.norm1_q_cross = build_norm_layer(norm_cfg, embed_dims)[1]
        self.norm1_k_cross = build_norm_layer(norm_cfg, embed_dims)[1]
        self.norm1_v_cross = build_norm_layer(norm_cfg, embed_dims)[1]
        self.norm2_cross = build_norm_layer(norm_cfg, embed_dims)[1]
        self.cross_attn = CrossMultiheadAttention(embed_dims, num_heads=num_heads, qkv_bias=qkv_bias,
                                                  qk_scale=qk_scale, attn_drop=attn_drop_rate, proj_drop=drop_rate)
        self.ffn = FFN(embed_dims=embed_dims, feedforward_channels=feedforward_channels, num_fcs=num_fcs,
                       ffn_drop=drop_rate, dropout_layer=None, act_cfg=act_cfg, add_identity=False)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        scaled = layer_scale_init_value is not None and layer_scale_init_value > 0
        init = float(layer_scale_init_value) if scaled else 1.0   # no LayerScale: fixed ones, as MMPretrain
        self.gamma_1_cross = nn.Parameter(torch.full((embed_dims,), init), requires_grad=scaled)
        self.gamma_2_cross = nn.Parameter(torch.full((embed_dims,), init), requires_grad=scaled)

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, pos_q: torch.Tensor, pos_k: torch.Tensor) -> torch.Tensor:
        x = x_q + self.drop_path(self.gamma_1_cross * self.cross_attn(
            self.norm1_q_cross(x_q + pos_q), k=self.norm1_k_cross(x_kv + pos_k), v=self.norm1_v_cross(x_kv)))
        x = self.norm2_cross(x)
        return x + self.drop_path(self.gamma_2_cross * self.ffn(x))


@MODELS.register_module()
class CAENeck(BaseModule):
    """``forward(x_unmasked, pos_embed_masked, pos_embed_unmasked)`` -> ``(logits, latent_pred)``:
    ``mask_tokens_num`` mask queries through ``regressor_depth`` regressor layers (``latent_pred``,
    normed), plus their position embedding through ``decoder_depth`` BEiT layers and a linear ``head``
    to ``num_classes`` code logits.

    Args (MMPretrain's): num_classes (8192), embed_dims (768), regressor_depth (6), decoder_depth (8),
    num_heads (12), mlp_ratio (4), qkv_bias, qk_scale, drop_rate, attn_drop_rate, drop_path_rate,
    norm_cfg, layer_scale_init_value, mask_tokens_num (75: the mask generator's num_masking_patches).
    """

    def __init__(self, num_classes: int = 8192, embed_dims: int = 768, regressor_depth: int = 6,
                 decoder_depth: int = 8, num_heads: int = 12, mlp_ratio: int = 4, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN', eps=1e-6),
                 layer_scale_init_value: float | None = None, mask_tokens_num: int = 75,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.num_features = self.embed_dim = embed_dims
        self.mask_token_num = mask_tokens_num
        rdpr, ddpr = _linspace(drop_path_rate, regressor_depth), _linspace(drop_path_rate, decoder_depth)
        self.regressors = nn.ModuleList(
            CAETransformerRegressorLayer(embed_dims=embed_dims, num_heads=num_heads,
                                         feedforward_channels=mlp_ratio * embed_dims, qkv_bias=qkv_bias,
                                         qk_scale=qk_scale, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                                         drop_path_rate=rdpr[i], norm_cfg=norm_cfg,
                                         layer_scale_init_value=layer_scale_init_value)
            for i in range(regressor_depth))
        self.decoders = nn.ModuleList(
            BEiTTransformerEncoderLayer(embed_dims=embed_dims, num_heads=num_heads,
                                        feedforward_channels=mlp_ratio * embed_dims,
                                        layer_scale_init_value=layer_scale_init_value, window_size=None,
                                        use_rel_pos_bias=False, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                                        drop_path_rate=ddpr[i], norm_cfg=norm_cfg)
            for i in range(decoder_depth))
        self.norm_regressor = build_norm_layer(norm_cfg, embed_dims)[1]
        self.norm_decoder = build_norm_layer(norm_cfg, embed_dims)[1]
        self.head = nn.Linear(embed_dims, num_classes) if num_classes > 0 else nn.Identity()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        if isinstance(self.head, nn.Linear):
            nn.init.trunc_normal_(self.head.weight, std=0.02)

    def forward(self, x_unmasked: torch.Tensor, pos_embed_masked: torch.Tensor,
                pos_embed_unmasked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pos_embed_masked.shape[1] != self.mask_token_num:
            raise ConfigError(f'CAENeck has mask_tokens_num={self.mask_token_num} mask queries, but the masks '
                              f'hide {pos_embed_masked.shape[1]} patches per image: set model.neck.mask_tokens_num '
                              'to the mask generator\'s num_masking_patches.')
        x = self.mask_token.expand(x_unmasked.shape[0], self.mask_token_num, -1)
        kv_pos = torch.cat([pos_embed_unmasked, pos_embed_masked], dim=1)
        for layer in self.regressors:
            x = layer(x, torch.cat([x_unmasked, x], dim=1), pos_embed_masked, kv_pos)
        latent_pred = self.norm_regressor(x)
        x = latent_pred + pos_embed_masked
        for layer in self.decoders:
            x = layer(x, rel_pos_bias=None)
        return self.head(self.norm_decoder(x)), latent_pred

"""MILAN (Hou et al., "MILAN: Masked Image Pretraining on Language Assisted Representation", 2022):
MAE-style masking guided by CLIP (the patches CLIP's class token attends to most are kept more often),
a prompting decoder that updates only the masked tokens (the visible ones act as prompts), and CLIP's
patch features as the target. MMPretrain's ``MILAN``, ``MILANViT``, ``MILANPretrainDecoder``; the
target is :class:`fovea.models.selfsup.eva.CLIPGenerator`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.models.layers.patch_embed import resize_pos_embed
from fovea.models.layers.transformer import MultiheadAttention, TransformerEncoderLayer
from fovea.models.necks.mae_decoder import MAEPretrainDecoder
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.selfsup.mae import MAEViT
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['MILAN', 'MILANViT', 'MILANPretrainDecoder', 'PromptMultiheadAttention']


def _take(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


@MODELS.register_module()
class MILANViT(MAEViT):
    """:class:`MAEViT` whose kept patches are drawn without replacement with probability proportional to
    ``importance`` (B, L). ``forward(x, importance)`` -> ``(latent, ids_restore, ids_keep, ids_dump)``;
    ``importance=None`` is the plain ViT."""

    def attention_masking(self, x: torch.Tensor, mask_ratio: float, importance: torch.Tensor):
        N, L, _ = x.shape
        len_keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.multinomial(importance.to(x.device), L, replacement=False)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        return _take(x, ids_shuffle[:, :len_keep]), ids_restore, ids_shuffle[:, :len_keep], ids_shuffle[:, len_keep:]

    def forward(self, x: torch.Tensor, importance: torch.Tensor | None = None):
        if importance is None:
            return VisionTransformer.forward(self, x)
        x, hw = self.patch_embed(x)
        pos = resize_pos_embed(self.pos_embed, self.patch_resolution, hw, mode=self.interpolate_mode,
                               num_extra_tokens=1)
        x, ids_restore, ids_keep, ids_dump = self.attention_masking(x + pos[:, 1:], self.mask_ratio, importance)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        return self._encode_tokens(torch.cat([cls, x], dim=1)), ids_restore, ids_keep, ids_dump


class PromptMultiheadAttention(MultiheadAttention):
    """Attention of the masked tokens (queries, ``q``) over all tokens (keys and values, ``kv``): the
    visible tokens in their original places, the class token first."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0., proj_drop: float = 0.,
                 dropout_layer: dict | None = dict(type='Dropout', drop_prob=0.), qkv_bias: bool = True,
                 qk_scale: float | None = None, **kwargs):
        super().__init__(embed_dims, num_heads, attn_drop=attn_drop, proj_drop=proj_drop,
                         dropout_layer=dropout_layer, qkv_bias=qkv_bias, qk_scale=qk_scale, **kwargs)
        del self.qkv
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)

    def forward(self, x: torch.Tensor, visible_tokens: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        full = torch.cat([visible_tokens[:, :1], _take(torch.cat([visible_tokens[:, 1:], x], 1), ids_restore)], 1)
        B = x.shape[0]
        q = self.q(x).reshape(B, x.shape[1], self.num_heads, self.head_dims).transpose(1, 2)
        k, v = self.kv(full).reshape(B, full.shape[1], 2, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.,
                                             scale=self.scale)
        out = out.transpose(1, 2).reshape(B, x.shape[1], self.embed_dims)
        return self.out_drop(self.gamma1(self.proj_drop(self.proj(out))))


class PromptTransformerEncoderLayer(TransformerEncoderLayer):
    """``x + attn(ln1(x), visible_tokens, ids_restore)`` then the FFN, on the masked tokens only."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0., num_fcs: int = 2, qkv_bias: bool = True,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN'), init_cfg=None):
        super().__init__(embed_dims, num_heads, feedforward_channels, drop_rate=drop_rate,
                         attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate, num_fcs=num_fcs,
                         qkv_bias=qkv_bias, act_cfg=act_cfg, norm_cfg=norm_cfg, init_cfg=init_cfg)
        self.attn = PromptMultiheadAttention(embed_dims, num_heads, attn_drop=attn_drop_rate, proj_drop=drop_rate,
                                             dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
                                             qkv_bias=qkv_bias)

    def forward(self, x: torch.Tensor, visible_tokens: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), visible_tokens, ids_restore)
        return self.ffn(self.ln2(x), identity=x)


@MODELS.register_module()
class MILANPretrainDecoder(MAEPretrainDecoder):
    """:class:`MAEPretrainDecoder` with prompt layers: ``forward(x, ids_restore, ids_keep, ids_dump)``
    -> (B, 1 + L, predict_feature_dim), the class token first (MMPretrain's)."""

    def __init__(self, num_patches: int = 196, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 1024,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 predict_feature_dim: int = 512, mlp_ratio: int = 4, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: dict | list | None = None):
        super().__init__(num_patches=num_patches, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
                         decoder_embed_dim=decoder_embed_dim, decoder_depth=0, decoder_num_heads=decoder_num_heads,
                         mlp_ratio=mlp_ratio, norm_cfg=norm_cfg, predict_feature_dim=predict_feature_dim,
                         init_cfg=init_cfg)
        self.decoder_blocks = nn.ModuleList(
            PromptTransformerEncoderLayer(decoder_embed_dim, decoder_num_heads, int(mlp_ratio * decoder_embed_dim),
                                          qkv_bias=True, norm_cfg=norm_cfg) for _ in range(decoder_depth))

    def forward(self, x: torch.Tensor, ids_restore: torch.Tensor, ids_keep: torch.Tensor,
                ids_dump: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(x)
        B, n, C = x.shape
        masks = self.mask_token.expand(B, ids_restore.shape[1] + 1 - n, -1)
        x = torch.cat([x[:, :1], _take(torch.cat([x[:, 1:], masks], 1), ids_restore)], 1) + self.decoder_pos_embed
        visible = torch.cat([x[:, :1], _take(x[:, 1:], ids_keep)], 1)
        x = _take(x[:, 1:], ids_dump)
        for blk in self.decoder_blocks:
            x = blk(x, visible, ids_restore)
        x = torch.cat([visible[:, :1], _take(torch.cat([visible[:, 1:], x], 1), ids_restore)], 1)
        return self.decoder_pred(self.decoder_norm(x))


@MODELS.register_module()
class MILAN(BaseSelfSupervisor):
    """CLIP-guided masking (the class token's attention to each patch in CLIP's last layer), a prompting
    decoder, and ``MIMHead`` (cosine similarity) against CLIP's features of every token."""

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, importance=None)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            raise ConfigError('MILAN takes one view per image, the pipeline gives a list of views: remove '
                              'MultiView from train_dataloader.dataset.pipeline.')
        with torch.no_grad():
            clip_feature, attention = self.target_generator(inputs)
        latent, ids_restore, ids_keep, ids_dump = self.backbone(inputs, attention[:, 0, 1:])
        pred = self.neck(latent, ids_restore, ids_keep, ids_dump)
        return dict(loss=self.head.loss(pred, clip_feature))


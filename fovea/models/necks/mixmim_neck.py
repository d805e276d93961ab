"""MixMIM's decoder: MAE's, run on both unmixed token sets (MMPretrain's ``MixMIMPretrainDecoder``)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.necks.mae_decoder import MAEPretrainDecoder
from fovea.registry import MODELS

__all__ = ['MixMIMPretrainDecoder']


@MODELS.register_module()
class MixMIMPretrainDecoder(MAEPretrainDecoder):
    """``forward(x, mask)`` with the encoder's (B, L, C) tokens and the (1, L, 1) mixing mask ->
    (2B, L, encoder_stride**2 * 3): first each image's own cells with mask tokens elsewhere, then the
    mirrored image's. No class token; a fixed sin-cos ``decoder_pos_embed``."""

    def __init__(self, num_patches: int = 196, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 1024,
                 encoder_stride: int = 32, decoder_embed_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mlp_ratio: int = 4, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: dict | list | None = None):
        super().__init__(num_patches=num_patches, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
                         decoder_embed_dim=decoder_embed_dim, decoder_depth=decoder_depth,
                         decoder_num_heads=decoder_num_heads, mlp_ratio=mlp_ratio, norm_cfg=norm_cfg,
                         predict_feature_dim=encoder_stride ** 2 * 3, init_cfg=init_cfg)
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches, decoder_embed_dim), requires_grad=False)

    def init_weights(self) -> None:
        BaseModule.init_weights(self)
        with torch.no_grad():
            self.decoder_pos_embed.copy_(build_2d_sincos_position_embedding(
                int(self.num_patches ** .5), self.decoder_pos_embed.shape[-1], cls_token=False))
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(x)
        tokens = self.mask_token.expand(*x.shape[:2], -1)
        x = torch.cat([x * (1 - mask) + tokens * mask, x * mask + tokens * (1 - mask)], dim=0)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))

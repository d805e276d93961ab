"""MAE's pre-training decoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR
2022): MMPretrain's ``MAEPretrainDecoder`` arguments and state-dict names."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.layers.transformer import TransformerEncoderLayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['MAEPretrainDecoder', 'PixelDecoderTail']


class PixelDecoderTail:
    """MAE's decoder transformer as parts of a neck (MMPretrain's flat names): ``mask_token``, the fixed
    ``decoder_pos_embed``, ``decoder_blocks``, the norm (``decoder_norm``) and ``decoder_pred``."""

    def _build_decoder_tail(self, num_positions: int, decoder_embed_dim: int, decoder_depth: int,
                            decoder_num_heads: int, mlp_ratio: float, norm_cfg: dict, out_dim: int) -> None:
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_positions, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            TransformerEncoderLayer(decoder_embed_dim, decoder_num_heads, int(mlp_ratio * decoder_embed_dim),
                                    qkv_bias=True, norm_cfg=norm_cfg) for _ in range(decoder_depth)])
        self.decoder_norm_name, norm = build_norm_layer(norm_cfg, decoder_embed_dim, postfix=1)
        self.add_module(self.decoder_norm_name, norm)
        self.decoder_pred = nn.Linear(decoder_embed_dim, int(out_dim), bias=True)

    @property
    def decoder_norm(self) -> nn.Module:
        return getattr(self, self.decoder_norm_name)

    def _init_decoder_tail(self, num_patches: int, cls_token: bool) -> None:
        """The 2D sin-cos ``decoder_pos_embed`` (a zero row first for a class token) and ``mask_token`` N(0, 0.02)."""
        self.decoder_pos_embed.data.copy_(build_2d_sincos_position_embedding(
            int(num_patches ** .5), self.decoder_pos_embed.shape[-1], cls_token=cls_token))
        nn.init.normal_(self.mask_token, std=.02)

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (position embedding added) through the blocks, the norm and the prediction layer."""
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))


@MODELS.register_module()
class MAEPretrainDecoder(PixelDecoderTail, BaseModule):
    """A light transformer that fills the masked positions with a learned mask token, restores the
    patch order, adds a fixed 2D sin-cos position embedding and predicts each patch's pixels.

    Args:
        num_patches: patches of the whole image (196 for 224 px / 16). Defaults to 196.
        patch_size / in_chans: what each prediction covers (``patch_size ** 2 * in_chans`` values).
        embed_dim: the encoder's width. Defaults to 1024.
        decoder_embed_dim / decoder_depth / decoder_num_heads / mlp_ratio: the decoder (512, 8, 16, 4).
        norm_cfg: norms (LN, eps 1e-6).
        predict_feature_dim: output width instead of ``patch_size ** 2 * in_chans`` (feature targets).
    """

    def __init__(self, num_patches: int = 196, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 1024,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 mlp_ratio: float = 4, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 predict_feature_dim: int | None = None, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.num_patches = num_patches
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self._build_decoder_tail(num_patches + 1, decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio,
                                 norm_cfg, predict_feature_dim or patch_size ** 2 * in_chans)

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        self._init_decoder_tail(self.num_patches, cls_token=True)

    def forward(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Encoder tokens of the visible patches (B, 1 + L_visible, C), class token first, and
        ``ids_restore`` (B, L) -> per-patch predictions (B, L, predict_feature_dim)."""
        if ids_restore.shape[1] != self.num_patches:
            raise ConfigError(f'MAEPretrainDecoder was built for num_patches={self.num_patches}, the image has '
                            f'{ids_restore.shape[1]} patches: set model.neck.num_patches to '
                            f'(img_size // patch_size) ** 2 = {ids_restore.shape[1]}.')
        x = self.decoder_embed(x)
        B, n, C = x.shape
        mask_tokens = self.mask_token.expand(B, ids_restore.shape[1] + 1 - n, -1)
        patches = torch.cat([x[:, 1:], mask_tokens], dim=1)
        patches = torch.gather(patches, 1, ids_restore.unsqueeze(-1).expand(-1, -1, C))
        return self._decode(torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed)[:, 1:]

"""iTPN's pre-training neck (Tian et al., "Integrally Pre-Trained Transformer Pyramid Networks", CVPR 2023):
MMPretrain's ``iTPNPretrainDecoder`` arguments and state-dict names.

A feature pyramid over a HiViT's outputs: the main stage's tokens (one per 16 px patch) are split into 2x2
and then 4x4 inner tokens (``PatchSplit``), each level added to the stem's map of that size and refined by
MLP blocks (HiViT's ``BlockWithRPE`` without attention). Every level is projected to a share of the decoder
width and the three are summed per patch: with pixel targets (``reconstruction_type='pixel'``) an MAE decoder
then fills in the masked patches; with CLIP targets (``'clip'``) the sum, normalised, is the prediction.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.hivit import BlockWithRPE
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.necks.mae_decoder import PixelDecoderTail
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['iTPNPretrainDecoder', 'PatchSplit', 'rescale_residual_branches']


def rescale_residual_branches(blocks) -> None:
    """Divide each ``BlockWithRPE``'s output projections (attention ``proj``, ``mlp.fc2``) by
    ``sqrt(2 * (i + 1))``, ``i`` its place in ``blocks`` (BEiT's initialisation, used by iTPN's CLIP variant)."""
    for i, blk in enumerate(blocks):
        if isinstance(blk, BlockWithRPE):
            if blk.attn is not None:
                blk.attn.proj.weight.data.div_((2.0 * (i + 1)) ** 0.5)
            blk.mlp.fc2.weight.data.div_((2.0 * (i + 1)) ** 0.5)


class PatchSplit(nn.Module):
    """One inner token -> 2x2, ``fpn_dim`` wide: (B, N, h, w, dim) -> (B, N, 2h, 2w, fpn_dim)."""

    def __init__(self, dim: int, fpn_dim: int, norm_cfg: dict):
        super().__init__()
        self.norm = build_norm_layer(norm_cfg, dim)[1]
        self.reduction = nn.Linear(dim, fpn_dim * 4, bias=False)
        self.fpn_dim = fpn_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, H, W, _ = x.shape
        x = self.reduction(self.norm(x)).reshape(B, N, H, W, 2, 2, self.fpn_dim)
        return x.permute(0, 1, 2, 4, 3, 5, 6).reshape(B, N, 2 * H, 2 * W, self.fpn_dim)


@MODELS.register_module()
class iTPNPretrainDecoder(PixelDecoderTail, BaseModule):
    """The transformer pyramid and (pixel targets) an MAE decoder.

    Args:
        num_patches: patches of the whole image (196). patch_size / in_chans: what a pixel prediction covers.
        embed_dim: the encoder's width (512 for HiViT-B). fpn_dim / fpn_depth: pyramid width and MLP blocks
            per level (256, 2). num_outs: pyramid levels, 2 (16 and 8 px) or 3 (also 4 px).
        decoder_embed_dim / decoder_depth / decoder_num_heads / mlp_ratio: the pixel decoder (512, 6, 16, 4);
            with CLIP targets ``decoder_embed_dim`` must equal ``embed_dim`` (the output is normalised over it).
        norm_cfg: norms (LN, eps 1e-6). reconstruction_type: 'pixel' or 'clip'.
        qkv_bias / qk_scale / drop_rate / attn_drop_rate: of the pyramid's blocks (which have no attention).
        predict_feature_dim: pixel decoder output width instead of ``patch_size ** 2 * in_chans``.

    ``forward(feats, ids_restore=None)``: ``feats`` is the backbone's ``(stem_4px, stem_8px, tokens)``; the
    result is (B, L, predict_feature_dim) for pixel targets (``ids_restore`` needed), (B, L, embed_dim) for CLIP.
    """

    def __init__(self, num_patches: int = 196, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 512,
                 fpn_dim: int = 256, fpn_depth: int = 2, decoder_embed_dim: int = 512, decoder_depth: int = 6,
                 decoder_num_heads: int = 16, mlp_ratio: float = 4, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 reconstruction_type: str = 'pixel', num_outs: int = 3, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0., attn_drop_rate: float = 0.,
                 predict_feature_dim: int | None = None, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if reconstruction_type not in ('pixel', 'clip'):
            raise ConfigError(f"iTPNPretrainDecoder reconstruction_type must be 'pixel' or 'clip', got "
                              f'{reconstruction_type!r}.')
        if num_outs not in (2, 3):
            raise ConfigError(f'iTPNPretrainDecoder num_outs must be 2 or 3 (pyramid levels), got {num_outs}.')
        if reconstruction_type == 'clip' and decoder_embed_dim != embed_dim:
            raise ConfigError(f'iTPNPretrainDecoder with CLIP targets sums the levels at embed_dim={embed_dim}: set '
                              f'decoder_embed_dim={embed_dim} (got {decoder_embed_dim}).')
        self.num_patches = num_patches
        self.reconstruction_type = reconstruction_type
        self.num_outs = num_outs

        def mlp_block() -> BlockWithRPE:
            return BlockWithRPE(None, fpn_dim, 0, mlp_ratio, qkv_bias, qk_scale, drop=drop_rate,
                                attn_drop=attn_drop_rate, rpe=False, norm_cfg=norm_cfg)

        # the pyramid (MMPretrain's names): level 16 px -> 8 px -> 4 px
        self.align_dim_16tofpn = nn.Linear(embed_dim, fpn_dim) if embed_dim != fpn_dim else None
        self.fpn_modules = nn.ModuleList([mlp_block(), mlp_block()])
        self.align_dim_16to8 = nn.Linear(embed_dim // 2, fpn_dim, bias=False)
        self.split_16to8 = PatchSplit(embed_dim, fpn_dim, norm_cfg)
        self.block_16to8 = nn.Sequential(*[mlp_block() for _ in range(fpn_depth)])
        if num_outs > 2:
            self.align_dim_8to4 = nn.Linear(embed_dim // 4, fpn_dim, bias=False)
            self.split_8to4 = PatchSplit(fpn_dim, fpn_dim, norm_cfg)
            self.block_8to4 = nn.Sequential(*[mlp_block() for _ in range(fpn_depth)])
            self.fpn_modules.append(mlp_block())

        # each level to a share of the decoder width (a level of k x k inner tokens: decoder_embed_dim / k^2 each)
        self.decoder_embed = nn.ModuleList([
            nn.Sequential(nn.LayerNorm(fpn_dim), nn.Linear(fpn_dim, decoder_embed_dim // 4 ** level))
            for level in range(num_outs)])

        if reconstruction_type == 'pixel':      # MAE's decoder, without a class token
            self._build_decoder_tail(num_patches, decoder_embed_dim, decoder_depth, decoder_num_heads, mlp_ratio,
                                     norm_cfg, predict_feature_dim or patch_size ** 2 * in_chans)
        else:
            self.norm = build_norm_layer(norm_cfg, embed_dim)[1]

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.reconstruction_type == 'pixel':
            self._init_decoder_tail(self.num_patches, cls_token=False)
        else:
            rescale_residual_branches(self.fpn_modules)

    def pyramid(self, feats) -> list[torch.Tensor]:
        """The pyramid's levels (B, L, k, k, fpn_dim), k = 1, 2 (, 4), from ``(stem_4px, stem_8px, tokens)``."""
        stem, x = feats[:2], feats[-1][..., None, None, :]
        outs = [x if self.align_dim_16tofpn is None else self.align_dim_16tofpn(x)]
        x = self.block_16to8(self.split_16to8(x) + self.align_dim_16to8(stem[1]))
        outs.append(x)
        if self.num_outs > 2:
            outs.append(self.block_8to4(self.split_8to4(x) + self.align_dim_8to4(stem[0])))
        return [blk(out) for blk, out in zip(self.fpn_modules, outs)]

    def forward(self, feats, ids_restore: torch.Tensor | None = None) -> torch.Tensor:
        B, L = feats[-1].shape[:2]
        levels = [embed(level).reshape(B, L, -1) for embed, level in zip(self.decoder_embed, self.pyramid(feats))]
        if self.reconstruction_type == 'clip':
            return self.norm(sum(levels[1:], levels[0]))
        if ids_restore is None:
            raise ConfigError('iTPNPretrainDecoder with pixel targets needs ids_restore (the backbone\'s masking).')
        if ids_restore.shape[1] != self.num_patches:
            raise ConfigError(f'iTPNPretrainDecoder was built for num_patches={self.num_patches}, the image has '
                              f'{ids_restore.shape[1]} patches: set model.neck.num_patches to '
                              f'(img_size // patch_size) ** 2 = {ids_restore.shape[1]}.')
        index = ids_restore.unsqueeze(-1)
        x = self.decoder_pos_embed
        for level in levels:           # the visible patches' tokens, mask tokens elsewhere, in image order
            filled = torch.cat([level, self.mask_token.expand(B, ids_restore.shape[1] - L, -1)], dim=1)
            x = x + torch.gather(filled, 1, index.expand(-1, -1, filled.shape[-1]))
        return self._decode(x)

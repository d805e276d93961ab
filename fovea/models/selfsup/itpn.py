"""iTPN (Tian et al., "Integrally Pre-Trained Transformer Pyramid Networks", CVPR 2023) with MMPretrain's
names: ``iTPNHiViT`` (a HiViT that hands its stem maps to the neck as well), ``iTPNPretrainDecoder`` (necks:
a feature pyramid, then an MAE decoder for pixel targets) and, for CLIP targets, ``iTPNClipHead`` against a
``CLIPGenerator``'s patch features (BEiT-style masking: masked patches become a learned mask token).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.hivit import HiViT
from fovea.models.necks.itpn_neck import rescale_residual_branches
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.selfsup.beit import stack_masks
from fovea.models.selfsup.mae import MAEHiViT
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['iTPNHiViT', 'iTPN']


@MODELS.register_module()
class iTPNHiViT(MAEHiViT):
    """HiViT for iTPN pre-training.

    ``reconstruction_type='pixel'``: ``forward(x)`` encodes a random ``1 - mask_ratio`` of the patches (as
    :class:`MAEHiViT`) and returns ``((stem_4px, stem_8px, tokens), mask, ids_restore)``.
    ``'clip'``: ``forward(x, mask)`` with a (B, h, w) patch mask replaces the masked patches' tokens by
    ``mask_token`` after the stem and returns ``(stem_4px, stem_8px, tokens)`` for all patches.
    ``forward(x, mask=None)`` is the plain HiViT.

    Args: those of :class:`HiViT` (LN eps 1e-6 by default), ``mask_ratio`` (pixel targets, 0.75) and
        reconstruction_type: 'pixel' or 'clip'.
    """

    def __init__(self, arch: str | dict = 'base', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 inner_patches: int = 4, stem_mlp_ratio: float = 3., mlp_ratio: float = 4., qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN', eps=1e-6), ape: bool = True,
                 rpe: bool = False, layer_scale_init_value: float = 0., mask_ratio: float = 0.75,
                 reconstruction_type: str = 'pixel', **kwargs):
        if reconstruction_type not in ('pixel', 'clip'):
            raise ConfigError(f"iTPNHiViT reconstruction_type must be 'pixel' or 'clip', got {reconstruction_type!r}.")
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, inner_patches=inner_patches,
                         stem_mlp_ratio=stem_mlp_ratio, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, qk_scale=qk_scale,
                         drop_rate=drop_rate, attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate,
                         norm_cfg=norm_cfg, ape=ape, rpe=rpe, layer_scale_init_value=layer_scale_init_value,
                         mask_ratio=mask_ratio, **kwargs)
        if self.num_stages != 3:
            raise ConfigError(f'iTPNHiViT needs three stages (its pyramid reads both stem maps), got depths '
                              f'{self.depths}.')
        self.reconstruction_type = reconstruction_type
        if reconstruction_type == 'clip':
            self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        if self.reconstruction_type == 'pixel':
            return super().init_weights()
        HiViT.init_weights(self)         # a trained (frozen) random position embedding, as MMPretrain's
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        nn.init.trunc_normal_(self.mask_token, std=.02)
        rescale_residual_branches(self.blocks)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | bool | None = True):
        if mask is None or mask is False:
            return HiViT.forward(self, x)
        if self.reconstruction_type == 'pixel':
            stem, tokens, mask, ids_restore = self.masked_encode(x)
            return (*stem, tokens), mask, ids_restore
        if not isinstance(mask, torch.Tensor):
            raise ConfigError('iTPNHiViT with CLIP targets takes the (B, h, w) patch mask of a BEiTMaskGenerator.')
        return self.forward_clip(x, mask)

    def forward_clip(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        B, _, H, W = x.shape
        hw = (H // self.patch_embed.patch_size[0], W // self.patch_embed.patch_size[1])
        stem, x = self.stem(self.patch_embed(x))
        w = mask.flatten(1).unsqueeze(-1).to(x.dtype)
        if w.shape[1] != x.shape[1]:
            raise ConfigError(f'iTPNHiViT got a mask of {w.shape[1]} patches for {x.shape[1]} patches: set the '
                              f'BEiTMaskGenerator input_size to the patch grid {hw}.')
        x = x * (1. - w) + self.mask_token.expand(B, x.shape[1], -1) * w
        x = self.pos_drop(x + self.position_embedding(hw))
        for blk in self.main_blocks:
            x = blk(x, self.rpe or None)
        return (*stem, x)


@MODELS.register_module()
class iTPN(BaseSelfSupervisor):
    """iTPN pre-training.

    Pixel targets (one view): MAE on an ``iTPNHiViT``, the ``iTPNPretrainDecoder`` predicting every patch from
    the pyramid, ``MAEPretrainHead`` scoring the masked ones. CLIP targets (two views, the second normalised
    for CLIP, and a patch mask per image): the masked image through ``iTPNHiViT`` and the pyramid,
    ``iTPNClipHead`` against the ``target_generator``'s (``CLIPGenerator``) features of the masked patches.
    ``extract_feat`` runs the backbone on every patch, unmasked.
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def reconstruct(self, inputs: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """Pixel targets: ``(latent, mask, pred)`` for normalised images, the decoder's per-patch output
        (what ``fovea mae-visualize`` draws)."""
        if self.backbone.reconstruction_type != 'pixel':
            raise ConfigError('iTPN with CLIP targets predicts CLIP features, not pixels: nothing to reconstruct.')
        latent, mask, ids_restore = self.backbone(inputs)
        return latent, mask, self.neck(latent, ids_restore)

    def loss(self, inputs, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if self.backbone.reconstruction_type == 'pixel':
            if isinstance(inputs, (list, tuple)):
                raise ConfigError('iTPN with pixel targets takes one view per image, the pipeline gives a list of '
                                  'views: remove MultiView from train_dataloader.dataset.pipeline.')
            _, mask, pred = self.reconstruct(inputs)
            return dict(loss=self.head.loss(pred, inputs, mask))
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ConfigError('iTPN with CLIP targets takes two views per image (the image, and the CLIP view): use '
                              "RandomResizedCropAndInterpolationWithTwoPic in train_dataloader.dataset.pipeline and "
                              "data_preprocessor=dict(type='TwoNormDataPreprocessor', ...).")
        img, clip_view = inputs
        mask = stack_masks(data_samples, type(self).__name__, img.device)
        feats = self.neck(self.backbone(img, mask))
        with torch.no_grad():
            target = self.target_generator(clip_view)[0]
        return dict(loss=self.head.loss(feats, target[:, 1:], mask))

"""MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022) with MMPretrain's
names: ``MAEViT`` encodes a random 25% of the patches, ``MAEPretrainDecoder`` (necks) predicts the
pixels of all of them, ``MAEPretrainHead`` + ``PixelReconstructionLoss`` score the masked ones."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.hivit import HiViT
from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.models.layers.patch_embed import resize_pos_embed
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['MAEViT', 'MAEHiViT', 'MAE', 'random_masking', 'random_masking_ids']


def random_masking_ids(B: int, L: int, mask_ratio: float, device: torch.device | str | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE's per-sample shuffle of L tokens: ``(ids_keep (B, L_keep), mask (B, L): 1 = removed,
    ids_restore (B, L))`` with ``L_keep = int(L * (1 - mask_ratio))``; ``gather(cat(kept, removed),
    ids_restore)`` is the original order."""
    len_keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(torch.rand(B, L, device=device), dim=1)   # small noise: kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(B, L, device=device)
    mask[:, :len_keep] = 0
    return ids_shuffle[:, :len_keep], torch.gather(mask, 1, ids_restore), ids_restore


def random_masking(x: torch.Tensor, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random ``int(L * (1 - mask_ratio))`` of each row's L tokens (:func:`random_masking_ids`).

    Returns ``(x_kept (B, L_keep, C), mask (B, L): 1 = removed, ids_restore (B, L))``.
    """
    B, L, C = x.shape
    ids_keep, mask, ids_restore = random_masking_ids(B, L, mask_ratio, x.device)
    return torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, C)), mask, ids_restore


@MODELS.register_module()
class MAEViT(VisionTransformer):
    """A ViT whose ``forward(x)`` encodes only a random ``1 - mask_ratio`` of the patches.

    The position embedding is a fixed 2D sin-cos table (not trained); the patch projection is
    Xavier-initialised as a linear layer and the class token N(0, 0.02), as in MAE.

    ``forward(x, mask=True)`` returns ``(latent (B, 1 + L_keep, C), mask (B, L), ids_restore (B, L))``;
    ``forward(x, mask=None)`` (or False) is the plain ViT on all patches (``out_type``, 'raw' by default).

    Args: those of :class:`VisionTransformer` (``with_cls_token`` is always True), and
        mask_ratio: fraction of patches removed. Defaults to 0.75.
    """

    def __init__(self, arch: str | dict = 'b', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0, drop_path_rate: float = 0,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = True, out_type: str = 'raw',
                 interpolate_mode: str = 'bicubic', patch_cfg: dict | None = None,
                 layer_cfgs: dict | Sequence[dict] | None = None, mask_ratio: float = 0.75,
                 init_cfg: dict | list | None = None, **kwargs):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, out_indices=out_indices,
                         drop_rate=drop_rate, drop_path_rate=drop_path_rate, norm_cfg=norm_cfg,
                         final_norm=final_norm, out_type=out_type, with_cls_token=True,
                         interpolate_mode=interpolate_mode, patch_cfg=patch_cfg, layer_cfgs=layer_cfgs,
                         init_cfg=init_cfg, **kwargs)
        if not 0 <= mask_ratio < 1:
            raise ConfigError(f'MAEViT mask_ratio must be in [0, 1), got {mask_ratio}.')
        self.pos_embed.requires_grad = False
        self.mask_ratio = mask_ratio
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        self.pos_embed.data.copy_(build_2d_sincos_position_embedding(
            self.patch_resolution, self.pos_embed.shape[-1], cls_token=True))
        w = self.patch_embed.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=.02)

    def forward(self, x: torch.Tensor, mask: bool | None = True):
        if not mask:
            return super().forward(x)
        x, hw = self.patch_embed(x)
        pos = resize_pos_embed(self.pos_embed, self.patch_resolution, hw, mode=self.interpolate_mode,
                               num_extra_tokens=1)
        x, mask, ids_restore = random_masking(x + pos[:, 1:], self.mask_ratio)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        return self._encode_tokens(torch.cat([cls, x], dim=1)), mask, ids_restore


@MODELS.register_module()
class MAEHiViT(HiViT):
    """A HiViT whose ``forward(x)`` encodes only a random ``1 - mask_ratio`` of the patches: they are dropped
    right after the patch embedding (HiViT's stem never mixes patches), with a fixed 2D sin-cos position
    embedding and a Xavier-initialised patch projection, as in MAE.

    ``forward(x, mask=True)`` returns ``(latent (B, L_keep, C), mask (B, L), ids_restore (B, L))`` (no class
    token); ``forward(x, mask=None)`` (or False) is the plain HiViT on all patches.

    Args: those of :class:`HiViT` (MMPretrain's defaults here: ``arch='b'``, LN eps 1e-6), and
        mask_ratio: fraction of patches removed. Defaults to 0.75.
    """

    def __init__(self, arch: str | dict = 'b', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 inner_patches: int = 4, out_indices: int | Sequence[int] = (23,), drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='LN', eps=1e-6), ape: bool = True,
                 rpe: bool = False, layer_scale_init_value: float = 0., mask_ratio: float = 0.75,
                 init_cfg: dict | list | None = None, **kwargs):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, inner_patches=inner_patches,
                         out_indices=out_indices, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                         norm_cfg=norm_cfg, ape=ape, rpe=rpe, layer_scale_init_value=layer_scale_init_value,
                         init_cfg=init_cfg, **kwargs)
        if not 0 <= mask_ratio < 1:
            raise ConfigError(f'{type(self).__name__} mask_ratio must be in [0, 1), got {mask_ratio}.')
        if not ape:
            raise ConfigError(f'{type(self).__name__} needs ape=True (the fixed sin-cos position embedding).')
        self.pos_embed.requires_grad = False
        self.mask_ratio = mask_ratio
        self.num_patches = self.patch_embed.num_patches

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        self.pos_embed.data.copy_(build_2d_sincos_position_embedding(
            int(self.num_patches ** .5), self.pos_embed.shape[-1], cls_token=False))
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def encode_visible(self, x: torch.Tensor, ids_keep: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The patches ``ids_keep`` (B, L_keep) of images ``x`` through the whole network: ``(stem, tokens)``,
        ``stem`` the inner-token maps that enter each ``PatchMerge`` ((B, L_keep, k, k, C') each, finest first)
        and ``tokens`` (B, L_keep, C) the main stage's output (no relative position bias: too few tokens)."""
        B, _, H, W = x.shape
        hw = (H // self.patch_embed.patch_size[0], W // self.patch_embed.patch_size[1])
        x = self.patch_embed(x)
        stem, x = self.stem(torch.gather(x, 1, ids_keep[:, :, None, None, None].expand(-1, -1, *x.shape[2:])))
        pos = self.position_embedding(hw).expand(B, -1, -1)
        x = self.pos_drop(x + torch.gather(pos, 1, ids_keep.unsqueeze(-1).expand(-1, -1, pos.shape[-1])))
        for blk in self.main_blocks:
            x = blk(x)
        return stem, x

    def masked_encode(self, x: torch.Tensor):
        """``(stem, tokens, mask, ids_restore)`` of a random ``1 - mask_ratio`` of each image's patches."""
        B, _, H, W = x.shape
        L = (H // self.patch_embed.patch_size[0]) * (W // self.patch_embed.patch_size[1])
        ids_keep, mask, ids_restore = random_masking_ids(B, L, self.mask_ratio, x.device)
        stem, tokens = self.encode_visible(x, ids_keep)
        return stem, tokens, mask, ids_restore

    def forward(self, x: torch.Tensor, mask: bool | None = True):
        if mask is None or mask is False:
            return super().forward(x)
        _, tokens, mask, ids_restore = self.masked_encode(x)
        return tokens, mask, ids_restore


@MODELS.register_module()
class MAE(BaseSelfSupervisor):
    """Encode the visible patches, decode all, regress the masked patches' pixels.

    ``extract_feat`` (kNN, feature extraction) runs the backbone on every patch, unmasked.
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def reconstruct(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(latent, mask, pred)`` for normalised images (B, C, H, W): the decoder's per-patch output.

        An encoder without a class token (``num_extra_tokens == 0``: ``MAEHiViT``) gives the decoder's class
        slot the visible tokens' mean, so that every visible token keeps its own position (MMPretrain takes
        the first visible token for the class token, which shifts the others by one place)."""
        latent, mask, ids_restore = self.backbone(inputs)
        tokens = latent
        if getattr(self.backbone, 'num_extra_tokens', 1) == 0:
            tokens = torch.cat([latent.mean(1, keepdim=True), latent], dim=1)
        return latent, mask, self.neck(tokens, ids_restore)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            raise ConfigError('MAE takes one view per image, the pipeline gives a list of views: remove '
                              'MultiView from train_dataloader.dataset.pipeline.')
        _, mask, pred = self.reconstruct(inputs)
        return dict(loss=self.head.loss(pred, inputs, mask))

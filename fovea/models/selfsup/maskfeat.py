"""MaskFeat (Wei et al., "Masked Feature Prediction for Self-Supervised Visual Pre-Training", CVPR
2022) with MMPretrain's names: ``MaskFeatViT`` fills the masked patches (``BEiTMaskGenerator``) with a
mask token, a ``LinearNeck`` predicts each patch's HOG descriptor (``HOGGenerator``, the target
generator), ``MIMHead`` + an L2 ``PixelReconstructionLoss`` score the masked patches."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.models.base import BaseModule
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.selfsup.simmim import stack_masks
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['HOGGenerator', 'MaskFeatViT', 'MaskFeat']


def _gaussian_window(size: int, std: float) -> torch.Tensor:
    n = torch.arange(size, dtype=torch.float32)
    w = torch.exp(-0.5 * ((n - n.mean()) / std) ** 2)
    k = w[:, None] * w[None, :]
    return k / k.sum()


@MODELS.register_module()
class HOGGenerator(BaseModule):
    """Histograms of oriented gradients per ``pool`` x ``pool`` cell, as MaskFeat's targets.

    Per colour channel: Sobel gradients (reflect-padded), each pixel's magnitude, weighted by a
    Gaussian window of ``gaussian_window`` pixels (std half of it) tiled over the image, votes into
    one of ``nbins`` orientation bins (signed angle ``atan2(gx, gy)``, ``nbins`` bins per pi); each
    cell's histogram is L2-normalised. ``forward(x)`` groups the cells by patch: (B, patches, 3 *
    nbins * cells_per_patch) with ``patch_grid`` patches a side (MMPretrain: 14, i.e. 224 px / 16).

    Args:
        nbins: orientation bins. Defaults to 9.
        pool: cell side in pixels. Defaults to 8.
        gaussian_window: Gaussian window side in pixels (0: no weighting). Defaults to 16.
    """

    def __init__(self, nbins: int = 9, pool: int = 8, gaussian_window: int = 16, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.nbins = nbins
        self.pool = pool
        self.gaussian_window = gaussian_window
        weight_x = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]).view(1, 1, 3, 3).repeat(3, 1, 1, 1)
        self.register_buffer('weight_x', weight_x)
        self.register_buffer('weight_y', weight_x.transpose(2, 3).contiguous())
        if gaussian_window:
            self.register_buffer('gaussian_kernel', _gaussian_window(gaussian_window, gaussian_window // 2))

    @torch.no_grad()
    def cell_histograms(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, 3, nbins, H / pool, W / pool) normalised cell histograms."""
        B, C, H, W = x.shape
        if C != 3:
            raise DataError(f'HOGGenerator takes 3-channel images, got {C} channels.')
        if H % self.pool or W % self.pool or (self.gaussian_window and (H % self.gaussian_window
                                                                        or W % self.gaussian_window)):
            raise DataError(f'HOGGenerator: {H}x{W} images do not split into {self.pool} px cells and '
                            f'{self.gaussian_window} px Gaussian windows; use a multiple of both.')
        with torch.autocast(x.device.type, enabled=False):
            x = F.pad(x.float(), (1, 1, 1, 1), mode='reflect')
            gx = F.conv2d(x, self.weight_x, groups=3)
            gy = F.conv2d(x, self.weight_y, groups=3)
            magnitude = torch.stack([gx, gy], dim=-1).norm(dim=-1)
            phase = torch.atan2(gx, gy) / math.pi * self.nbins          # in [-nbins, nbins]
            if self.gaussian_window:
                reps = (H // self.gaussian_window, W // self.gaussian_window)
                magnitude = magnitude * self.gaussian_kernel.repeat(*reps)
            hist = torch.zeros(B, C, self.nbins, H, W, device=x.device)
            hist.scatter_add_(2, (phase.floor().long() % self.nbins).unsqueeze(2), magnitude.unsqueeze(2))
            hist = hist.view(B, C, self.nbins, H // self.pool, self.pool, W // self.pool, self.pool).sum((4, 6))
            return F.normalize(hist, p=2, dim=2)

    def forward(self, x: torch.Tensor, patch_grid: int | Sequence[int] = 14) -> torch.Tensor:
        hist = self.cell_histograms(x).flatten(1, 2)                    # (B, 3 * nbins, h, w)
        B, D, h, w = hist.shape
        gh, gw = (patch_grid, patch_grid) if isinstance(patch_grid, int) else tuple(patch_grid)
        if h % gh or w % gw:
            raise DataError(f'HOGGenerator: {h}x{w} cells of {self.pool} px do not group into a {gh}x{gw} '
                            f'patch grid.')
        sh, sw = h // gh, w // gw
        hist = hist.view(B, D, gh, sh, gw, sw).permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, D, sh, sw)
        return hist.reshape(B, gh * gw, D * sh * sw)


@MODELS.register_module()
class MaskFeatViT(VisionTransformer):
    """A ViT whose ``forward(x, mask)`` replaces the masked patches' tokens (``mask`` (B, L) or
    (B, h, w), 1 = masked) by a learned ``mask_token`` and returns the last layer's tokens
    (B, 1 + L, C); ``mask=None`` is the plain ViT (``out_type``, 'raw' by default).

    Args: those of :class:`VisionTransformer` (``with_cls_token`` is always True).
    """

    def __init__(self, arch: str | dict = 'b', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0, drop_path_rate: float = 0,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = True, out_type: str = 'raw',
                 interpolate_mode: str = 'bicubic', patch_cfg: dict | None = None,
                 layer_cfgs: dict | Sequence[dict] | None = None, init_cfg: dict | list | None = None, **kwargs):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, out_indices=out_indices,
                         drop_rate=drop_rate, drop_path_rate=drop_path_rate, norm_cfg=norm_cfg,
                         final_norm=final_norm, out_type=out_type, with_cls_token=True,
                         interpolate_mode=interpolate_mode, patch_cfg=patch_cfg, layer_cfgs=layer_cfgs,
                         init_cfg=init_cfg, **kwargs)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        for t in (self.cls_token, self.mask_token, self.pos_embed):
            nn.init.trunc_normal_(t, std=.02)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        if mask is None:
            return super().forward(x)
        x, hw = self.patch_embed(x)
        mask = mask.flatten(1)
        if mask.shape[1] != x.shape[1]:
            raise DataError(f'MaskFeatViT: the mask has {mask.shape[1]} patches, the image {x.shape[1]} '
                            f'({hw[0]}x{hw[1]}): set BEiTMaskGenerator input_size to the patch grid.')
        w = mask.unsqueeze(-1).to(x.dtype)
        x = x * (1 - w) + self.mask_token.to(x.dtype) * w
        return self._encode_tokens(self._embed_tokens(x, hw))


@MODELS.register_module()
class MaskFeat(BaseSelfSupervisor):
    """Predict the HOG descriptors of the masked patches. ``extract_feat`` runs the backbone unmasked."""

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if not self.with_target_generator:
            raise ConfigError("MaskFeat needs model.target_generator=dict(type='HOGGenerator', ...).")
        mask = stack_masks(data_samples, 'MaskFeat', 'BEiTMaskGenerator').flatten(1).bool()
        latent = self.backbone(inputs, mask)
        B, L, C = latent.shape
        pred = self.neck((latent.reshape(B * L, C),))[0].view(B, L, -1)
        stride = self.backbone.patch_embed.projection.stride
        hog = self.target_generator(inputs, (inputs.shape[-2] // stride[0], inputs.shape[-1] // stride[1]))
        return dict(loss=self.head.loss(pred[:, 1:], hog, mask))

"""MAE's pre-training head: the pixel target of each patch (optionally normalised) and the loss."""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import DataError

__all__ = ['MAEPretrainHead', 'patchify', 'unpatchify']


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C), patches in row-major order, each flattened as (p, p, C)
    (MAE's layout, which its decoder predicts)."""
    B, C, H, W = imgs.shape
    p = patch_size
    if H % p or W % p:
        raise DataError(f'Images of {H}x{W} pixels do not split into {p}x{p} patches; resize or crop them '
                        f'to a multiple of patch_size={p}.')
    x = imgs.reshape(B, C, H // p, p, W // p, p)
    return torch.einsum('nchpwq->nhwpqc', x).reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(x: torch.Tensor, patch_size: int, hw: tuple[int, int] | None = None,
               in_channels: int = 3) -> torch.Tensor:
    """The inverse of :func:`patchify`: (B, L, p * p * C) on an ``hw`` patch grid (square if None)
    -> (B, C, H, W)."""
    B, L, _ = x.shape
    p = patch_size
    if hw is None:
        side = int(round(L ** 0.5))
        hw = (side, side)
    h, w = hw
    if h * w != L:
        raise DataError(f'{L} patches do not form a {h}x{w} grid.')
    x = x.reshape(B, h, w, p, p, in_channels)
    return torch.einsum('nhwpqc->nchpwq', x).reshape(B, in_channels, h * p, w * p)


@MODELS.register_module()
class MAEPretrainHead(BaseModule):
    """The target is the image cut into patches (:func:`patchify`); with ``norm_pix`` each patch is
    normalised by its own mean and variance (MAE's better-performing target). The loss module
    (``PixelReconstructionLoss``) compares it with the decoder's prediction on the masked patches.

    Args:
        loss: the loss config.
        norm_pix: normalise each target patch. Defaults to False.
        patch_size: the backbone's patch size. Defaults to 16.
        in_channels: image channels. Defaults to 3.
    """

    def __init__(self, loss: dict, norm_pix: bool = False, patch_size: int = 16, in_channels: int = 3,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.norm_pix = norm_pix
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.loss_module = MODELS.build(loss, key='loss')

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: torch.Tensor, hw: tuple[int, int] | None = None) -> torch.Tensor:
        return unpatchify(x, self.patch_size, hw, self.in_channels)

    def construct_target(self, target: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, L, p * p * C) patch targets (normalised per patch with norm_pix)."""
        target = self.patchify(target)
        if self.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6) ** .5
        return target

    def denormalize(self, pred: torch.Tensor, imgs: torch.Tensor) -> torch.Tensor:
        """A prediction in the target's space back to pixels (undoes norm_pix with each patch's
        statistics in ``imgs``; for pictures of the reconstruction)."""
        if not self.norm_pix:
            return pred
        target = self.patchify(imgs)
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        return pred * (var + 1.e-6) ** .5 + mean

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.loss_module(pred, self.construct_target(target), mask)

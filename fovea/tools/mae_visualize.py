"""The MAE reconstruction picture: the input, what the encoder saw (masked patches greyed out), the
decoder's reconstruction of every patch, and the reconstruction with the visible patches pasted back."""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from fovea.utils.errors import ConfigError

__all__ = ['mae_reconstruction', 'save_mae_picture', 'PANELS']

PANELS = ('input', 'masked', 'reconstruction', 'reconstruction + visible')


def _fit(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize the shorter side to the model's input size and centre-crop (uint8 (3, H, W))."""
    from torchvision.transforms.v2 import functional as TF
    h, w = img.shape[-2:]
    scale = max(size[0] / h, size[1] / w)
    img = TF.resize(img, [max(size[0], round(h * scale)), max(size[1], round(w * scale))], antialias=True)
    return TF.center_crop(img, list(size))


@torch.no_grad()
def mae_reconstruction(model, img: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The four panels (uint8 (3, H, W) each, at the model's input size) for one uint8 RGB image and an
    :class:`~fovea.models.selfsup.mae.MAE` model; ``seed`` fixes the random mask."""
    if not hasattr(model, 'reconstruct') or not hasattr(model.head, 'unpatchify'):
        raise ConfigError(f'mae-visualize needs an MAE model (MAEViT + MAEPretrainDecoder + MAEPretrainHead); '
                          f'the config builds {type(model).__name__}.')
    model.eval()
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    img = _fit(img, tuple(model.backbone.img_size))
    pre = model.data_preprocessor
    device = next(model.parameters()).device
    x = pre({'inputs': img[None].to(device), 'data_samples': None}, False)['inputs'].float()
    torch.manual_seed(seed)
    _, mask, pred = model.reconstruct(x)
    p = model.head.patch_size
    hw = (x.shape[-2] // p, x.shape[-1] // p)
    rec = model.head.unpatchify(model.head.denormalize(pred, x), hw)
    pix = mask.view(1, 1, *hw).float()
    pix = F.interpolate(pix, scale_factor=p, mode='nearest')           # (1, 1, H, W), 1 = masked

    def to_u8(t: torch.Tensor) -> torch.Tensor:       # the preprocessor's normalisation (and flip) undone
        if getattr(pre, '_normalize', False):
            t = t * pre.std + pre.mean
        if t.shape[1] == 3 and not pre.to_rgb:
            t = t.flip(1)
        return t.round().clamp(0, 255).to(torch.uint8)[0].cpu()

    orig = to_u8(x)
    grey = torch.full_like(orig, 128)
    keep = (pix[0] == 0).cpu()
    return {'input': orig, 'masked': torch.where(keep, orig, grey), 'reconstruction': to_u8(rec),
            'reconstruction + visible': torch.where(keep, orig, to_u8(rec))}


def save_mae_picture(model, img: torch.Tensor, path: str | os.PathLike, seed: int = 0, cell: int = 224) -> str:
    """Write the four panels of :func:`mae_reconstruction` side by side, titled, each scaled into a
    ``cell`` x ``cell`` square, as a PNG at ``path``; returns the path."""
    from fovea.tools.visualize import make_grid, save_png
    panels = mae_reconstruction(model, img, seed)
    grid = make_grid([panels[k] for k in PANELS], ncols=4, cell=cell, col_titles=list(PANELS))
    return str(save_png(grid, path))

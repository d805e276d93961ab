"""The colorization picture: greyscale input, prediction and original of a few images, one column each."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from fovea.data.transforms.pretext import LabColorization, lab_to_rgb, rgb_to_lab

__all__ = ['colorization_picture', 'save_colorization_picture']


@torch.no_grad()
def colorization_picture(model, images: Sequence[torch.Tensor]) -> torch.Tensor:
    """A uint8 (3, 3H, N * W) grid for N same-sized uint8 RGB (3, H, W) images and a trained
    :class:`~fovea.models.selfsup.colorization.Colorization` model: row 1 the L input shown in grey,
    row 2 the model's colours on that L, row 3 the original."""
    model.eval()
    to_l = LabColorization()
    l_u8 = torch.stack([to_l({'img': img})['img'] for img in images])
    device = next(model.parameters()).device
    inputs = model.data_preprocessor({'inputs': l_u8, 'data_samples': None}, False)['inputs']
    lightness = torch.stack([rgb_to_lab(img.float() / 255)[:1] for img in images]).to(device)
    grey = lab_to_rgb(torch.cat((lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)), 1))
    pred = model.colorize(inputs, lightness)
    orig = torch.stack(list(images)).to(device).float() / 255
    rows = [torch.cat(list(r), dim=-1) for r in (grey, pred, orig)]              # each (3, H, N * W)
    return (torch.cat(rows, dim=-2) * 255).round().clamp(0, 255).to(torch.uint8).cpu()


def save_colorization_picture(model, images: Sequence[torch.Tensor], path: str | os.PathLike) -> str:
    """Write :func:`colorization_picture` to ``path`` (PNG) and return the path."""
    from PIL import Image
    Image.fromarray(colorization_picture(model, images).permute(1, 2, 0).numpy()).save(path)
    return str(path)

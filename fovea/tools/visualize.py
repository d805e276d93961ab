"""Small drawing helpers shared by the analysis commands: labelled images, grids, heat-map overlays.

Images are uint8 tensors (C, H, W) RGB or greyscale, numpy HWC arrays or PIL images; outputs
are PIL RGB images, saved as PNG with :func:`save_png`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

__all__ = ['to_pil', 'draw_text_panel', 'make_grid', 'overlay_heatmap', 'save_png', 'jet_colormap', 'draw_boxes']


def to_pil(img, min_side: int = 0):
    """A PIL RGB image from a uint8 CHW tensor, an HWC/HW array or a PIL image; upscaled (nearest)
    so that its shorter side is at least ``min_side``."""
    from PIL import Image
    if isinstance(img, torch.Tensor):
        t = img.detach().cpu()
        if t.dtype != torch.uint8:
            t = (t.float() * (255.0 if float(t.max()) <= 1.0 else 1.0)).round().clamp(0, 255).to(torch.uint8)
        arr = t.numpy().transpose(1, 2, 0) if t.ndim == 3 else t.numpy()
        img = arr
    if isinstance(img, np.ndarray):
        arr = img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img
        img = Image.fromarray(np.ascontiguousarray(arr))
    img = img.convert('RGB')
    if min_side and min(img.size) < min_side:
        s = min_side / min(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.NEAREST)
    return img


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def draw_text_panel(img, lines: Sequence[str], min_side: int = 224, font_size: int = 14):
    """The image with a white panel of text lines below it (e.g. the top-k classes and scores)."""
    from PIL import Image, ImageDraw
    base = to_pil(img, min_side)
    font = _font(font_size)
    line_h = font_size + 4
    panel = Image.new('RGB', (base.width, line_h * len(lines) + 8), 'white')
    draw = ImageDraw.Draw(panel)
    for i, line in enumerate(lines):
        draw.text((6, 4 + i * line_h), line, fill='black', font=font)
    out = Image.new('RGB', (base.width, base.height + panel.height), 'white')
    out.paste(base, (0, 0))
    out.paste(panel, (0, base.height))
    return out


def make_grid(images: Sequence, ncols: int, titles: Sequence[str] | None = None, cell: int = 128,
              pad: int = 4, font_size: int = 12, col_titles: Sequence[str] | None = None):
    """Tile images (each fitted in a ``cell`` x ``cell`` square) in rows of ``ncols``, with optional
    titles under each image and headings above each column."""
    from PIL import Image, ImageDraw
    n = len(images)
    if n == 0:
        raise ValueError('make_grid needs at least one image')
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    title_h = font_size + 6 if titles else 0
    head_h = font_size + 8 if col_titles else 0
    font = _font(font_size)
    W = ncols * (cell + pad) + pad
    H = head_h + nrows * (cell + title_h + pad) + pad
    canvas = Image.new('RGB', (W, H), 'white')
    draw = ImageDraw.Draw(canvas)
    if col_titles:
        for c, t in enumerate(col_titles[:ncols]):
            draw.text((pad + c * (cell + pad) + 2, 3), str(t)[:cell // 6], fill='black', font=font)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        p = to_pil(im)
        s = cell / max(p.size)
        p = p.resize((max(1, round(p.width * s)), max(1, round(p.height * s))),
                     Image.NEAREST if s > 2 else Image.BILINEAR)
        x = pad + c * (cell + pad) + (cell - p.width) // 2
        y = head_h + pad + r * (cell + title_h + pad) + (cell - p.height) // 2
        canvas.paste(p, (x, y))
        if titles:
            ty = head_h + pad + r * (cell + title_h + pad) + cell + 2
            draw.text((pad + c * (cell + pad) + 2, ty), str(titles[i])[:cell // 6], fill='black', font=font)
    return canvas


def jet_colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with the classic 'jet' colours (no matplotlib needed)."""
    v = np.clip(values, 0, 1)[..., None]
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.concatenate([r, g, b], -1) * 255).round().astype(np.uint8)


def overlay_heatmap(img, heatmap: np.ndarray, alpha: float = 0.5):
    """Blend a (H', W') heat map with values in [0, 1] (resized to the image) over the image."""
    from PIL import Image
    base = to_pil(img)
    hm = np.asarray(Image.fromarray((np.clip(heatmap, 0, 1) * 255).astype(np.uint8)).resize(base.size,
                                                                                             Image.BILINEAR))
    colour = jet_colormap(hm.astype(np.float32) / 255.0)
    blended = (1 - alpha) * np.asarray(base, dtype=np.float32) + alpha * colour.astype(np.float32)
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))


def draw_boxes(img, boxes, labels: Sequence[str] | None = None, colour: str = 'lime', width: int = 3,
               font_size: int = 14):
    """The image with boxes (N, 4: x1 y1 x2 y2 in its pixels) outlined and each label written above its box
    (inside it where the box touches the top), as a PIL RGB image."""
    from PIL import ImageDraw
    out = to_pil(img)
    draw = ImageDraw.Draw(out)
    font = _font(font_size)
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4).tolist()
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=width)
        if labels and i < len(labels) and labels[i]:
            left, top, right, bottom = draw.textbbox((0, 0), labels[i], font=font)
            ty = y1 - (bottom - top) - 6 if y1 - (bottom - top) - 6 >= 0 else y1 + width
            draw.rectangle([x1, ty, x1 + right - left + 6, ty + bottom - top + 6], fill=colour)
            draw.text((x1 + 3 - left, ty + 3 - top), labels[i], fill='black', font=font)
    return out


def save_png(image, path: str | os.PathLike) -> Path:
    """Save a PIL image (or a matplotlib figure) as PNG, creating folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(image, 'savefig'):
        image.savefig(path, format='png', dpi=100, bbox_inches='tight')
    else:
        image.save(path, format='PNG', optimize=True)
    return path

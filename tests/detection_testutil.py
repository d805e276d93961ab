"""A small COCO-format detection set written from real photos (scikit-image's sample images) with
known shapes pasted on them: filled squares (class 'square') and discs (class 'disc')."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CLASSES = ('square', 'disc')
CAT_IDS = (3, 7)   # not 1..K, so that a wrong label -> category mapping shows


def _photos(size: int) -> list[np.ndarray]:
    from PIL import Image
    from skimage import data
    photos = []
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins', 'moon', 'page', 'text'):
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, 2)
        photos.append(np.asarray(Image.fromarray(img[..., :3]).resize((size, size))))
    return photos


def write_coco(root: Path, split: str, n_images: int, seed: int, size: int = 96) -> Path:
    """``root/<split>/*.jpg`` and ``root/<split>.json``; 1-3 objects of 14-32 px per image."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    photos = _photos(size)
    images, anns = [], []
    (root / split).mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n_images):
        img = photos[i % len(photos)].copy()
        for _ in range(int(rng.integers(1, 4))):
            label = int(rng.integers(0, 2))
            side = int(rng.integers(14, 33))
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            color = rng.integers(0, 256, 3)
            if label == 0:
                region = (xx >= x) & (xx < x + side) & (yy >= y) & (yy < y + side)
                poly = [x, y, x + side, y, x + side, y + side, x, y + side]
            else:
                r = side / 2
                region = (xx + 0.5 - x - r) ** 2 + (yy + 0.5 - y - r) ** 2 <= r * r
                t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
                poly = np.stack([x + r + r * np.cos(t), y + r + r * np.sin(t)], 1).reshape(-1).round(1).tolist()
            img[region] = color
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=CAT_IDS[label], iscrowd=0,
                             bbox=[x, y, side, side], area=float(region.sum()), segmentation=[poly]))
        Image.fromarray(img).save(root / split / f'{i:04d}.jpg', quality=95)
        images.append(dict(id=i + 1, file_name=f'{i:04d}.jpg', height=size, width=size))
    categories = [dict(id=c, name=n) for c, n in zip(CAT_IDS, CLASSES)]
    path = root / f'{split}.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=categories)))
    return path

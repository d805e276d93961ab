"""The handwritten digits that scikit-learn ships: the bundled real dataset for the default run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fovea.data.datasets.base import BaseDataset
from fovea.registry import DATASETS

ASSET = Path(__file__).resolve().parents[1] / 'assets' / 'digits.npz'

__all__ = ['Digits']


@DATASETS.register_module()
class Digits(BaseDataset):
    """1,797 8x8 greyscale handwritten digits (the UCI ML hand-written digits that scikit-learn ships, bundled with fovea).

    Pixel values 0..16 are scaled to 0..255 and stored as 1x8x8 uint8 images. The split is fixed
    and stratified: within each class, every fifth sample (in file order) goes to ``split='val'``
    (364 images), the rest to ``split='train'`` (1,433 images). ``split='all'`` keeps all of them.
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}

    def __init__(self, split: str = 'train', **kwargs):
        if split not in ('train', 'val', 'test', 'all'):
            raise ValueError(f"Digits split must be 'train', 'val' (alias 'test') or 'all', got {split!r}")
        self.split = 'val' if split == 'test' else split
        kwargs.setdefault('test_mode', self.split == 'val')
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        with np.load(ASSET) as f:
            raw, labels = f['images'], f['target'].astype(np.int64)
        images = np.clip(np.rint(raw * (255.0 / 16.0)), 0, 255).astype(np.uint8)
        rank_in_class = np.zeros(len(labels), dtype=np.int64)
        seen: dict[int, int] = {}
        for i, y in enumerate(labels):
            rank_in_class[i] = seen.get(int(y), 0)
            seen[int(y)] = rank_in_class[i] + 1
        is_val = rank_in_class % 5 == 0
        keep = {'train': ~is_val, 'val': is_val, 'all': np.ones_like(is_val)}[self.split]
        return [{'img': torch.from_numpy(images[i])[None], 'gt_label': int(labels[i]), 'img_shape': (8, 8),
                 'ori_shape': (8, 8)} for i in np.flatnonzero(keep)]

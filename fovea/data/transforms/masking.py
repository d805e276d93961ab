"""Mask generators for masked image modelling (MMPretrain's names and arguments).

Each adds ``results['mask']``: an (h, w) ``torch.bool`` tensor over the model's patch grid, True where
a patch is masked (MMPretrain: an int NumPy array of 0/1). ``PackInputs`` puts it on the DataSample
as ``mask`` without being asked (as MMPretrain's does), so a batch's masks reach ``loss()`` as
``torch.stack([s.mask for s in data_samples])``.

* :class:`SimMIMMaskGenerator` (SimMIM): a random ``mask_ratio`` of coarse ``mask_patch_size`` cells,
  each covering ``(mask_patch_size // model_patch_size) ** 2`` model patches.
* :class:`BEiTMaskGenerator` (BEiT, CAE, BEiT v2, MaskFeat, iTPN): rectangular blocks of random area
  and aspect ratio added until exactly ``num_masking_patches`` patches are masked.

Both draw from NumPy's global generator, which fovea's loaders seed per worker.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError

__all__ = ['SimMIMMaskGenerator', 'BEiTMaskGenerator']


@TRANSFORMS.register_module()
class SimMIMMaskGenerator(BaseTransform):
    """Random block mask of SimMIM (Xie et al. 2022).

    Added Keys: ``mask`` ((input_size // model_patch_size,) * 2 bool tensor).

    Args:
        input_size: image side in pixels. Defaults to 192.
        mask_patch_size: side of one masked cell in pixels. Defaults to 32.
        model_patch_size: the backbone's patch side in pixels. Defaults to 4.
        mask_ratio: fraction of cells masked (rounded up). Defaults to 0.6.
    """

    def __init__(self, input_size: int = 192, mask_patch_size: int = 32, model_patch_size: int = 4,
                 mask_ratio: float = 0.6):
        if input_size % mask_patch_size or mask_patch_size % model_patch_size:
            raise ConfigError(f'SimMIMMaskGenerator: input_size ({input_size}) must be a multiple of '
                              f'mask_patch_size ({mask_patch_size}), and mask_patch_size of '
                              f'model_patch_size ({model_patch_size}).')
        if not 0 <= mask_ratio <= 1:
            raise ConfigError(f'SimMIMMaskGenerator: mask_ratio must be in [0, 1], got {mask_ratio}.')
        self.input_size = input_size
        self.mask_patch_size = mask_patch_size
        self.model_patch_size = model_patch_size
        self.mask_ratio = mask_ratio
        self.rand_size = input_size // mask_patch_size
        self.scale = mask_patch_size // model_patch_size
        self.token_count = self.rand_size ** 2
        self.mask_count = int(np.ceil(self.token_count * mask_ratio))

    def transform(self, results: dict) -> dict:
        mask = np.zeros(self.token_count, dtype=bool)
        mask[np.random.permutation(self.token_count)[:self.mask_count]] = True
        mask = mask.reshape(self.rand_size, self.rand_size).repeat(self.scale, 0).repeat(self.scale, 1)
        results['mask'] = torch.from_numpy(mask)
        return results


@TRANSFORMS.register_module()
class BEiTMaskGenerator(BaseTransform):
    """Block-wise mask of BEiT (Bao et al. 2022).

    Blocks of ``min_num_patches`` .. ``max_num_patches`` patches, aspect ratio log-uniform in
    ``[min_aspect, max_aspect]``, are added (each must mask at least one new patch and at most the
    patches still wanted) until exactly ``num_masking_patches`` are masked.

    Added Keys: ``mask`` ((H, W) bool tensor over the patch grid).

    Args:
        input_size: patch grid size, an int or (H, W).
        num_masking_patches: how many patches to mask.
        min_num_patches: smallest block area. Defaults to 4.
        max_num_patches: largest block area; None: ``num_masking_patches``.
        min_aspect: smallest block aspect ratio. Defaults to 0.3.
        max_aspect: largest block aspect ratio; None: ``1 / min_aspect``.
    """

    #: rounds of 10 block tries without a new masked patch before giving up with a ConfigError
    MAX_IDLE_ROUNDS = 1000

    def __init__(self, input_size: int | tuple[int, int], num_masking_patches: int, min_num_patches: int = 4,
                 max_num_patches: int | None = None, min_aspect: float = 0.3, max_aspect: float | None = None):
        self.height, self.width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        self.num_patches = self.height * self.width
        if not 0 <= num_masking_patches <= self.num_patches:
            raise ConfigError(f'BEiTMaskGenerator: num_masking_patches={num_masking_patches} must be between 0 '
                              f'and the {self.num_patches} patches of input_size={input_size}.')
        if min_aspect <= 0:
            raise ConfigError(f'BEiTMaskGenerator: min_aspect must be positive, got {min_aspect}.')
        self.num_masking_patches = num_masking_patches
        self.min_num_patches = min_num_patches
        self.max_num_patches = num_masking_patches if max_num_patches is None else max_num_patches
        max_aspect = max_aspect or 1 / min_aspect
        self.log_aspect_ratio = (math.log(min_aspect), math.log(max_aspect))

    def _add_block(self, mask: np.ndarray, max_mask_patches: int) -> int:
        """Mask one random block (up to 10 tries); the number of newly masked patches (0 if none fit)."""
        for _ in range(10):
            target_area = np.random.uniform(self.min_num_patches, max_mask_patches)
            aspect_ratio = math.exp(np.random.uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(target_area * aspect_ratio)))
            w = int(round(math.sqrt(target_area / aspect_ratio)))
            if w < self.width and h < self.height:
                top = np.random.randint(0, self.height - h)
                left = np.random.randint(0, self.width - w)
                block = mask[top:top + h, left:left + w]
                new = h * w - int(block.sum())
                if 0 < new <= max_mask_patches:
                    block[...] = True
                    return new
        return 0

    def transform(self, results: dict) -> dict:
        mask = np.zeros((self.height, self.width), dtype=bool)
        count, idle = 0, 0
        while count < self.num_masking_patches:
            new = self._add_block(mask, min(self.num_masking_patches - count, self.max_num_patches))
            count, idle = count + new, (0 if new else idle + 1)
            if idle == self.MAX_IDLE_ROUNDS:   # MMPretrain loops forever here
                raise ConfigError(
                    f'BEiTMaskGenerator could not place {self.num_masking_patches} masked patches on a '
                    f'{self.height}x{self.width} grid with blocks of {self.min_num_patches}-{self.max_num_patches} '
                    f'patches ({count} placed; blocks never touch the last row and column): lower '
                    f'num_masking_patches or min_num_patches, or enlarge input_size.')
        results['mask'] = torch.from_numpy(mask)
        return results

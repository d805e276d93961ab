"""Pretext-task transforms: each makes the inputs (and, where they vary per image, the targets) of one
early self-supervised task from a single image.

* :class:`RandomRotationWithLabels` (RotationPred): the image rotated by 0, 90, 180 and 270 degrees.
* :class:`RandomPatchWithLabels` (RelativeLoc): nine jittered patches of a 3x3 grid with gaps.
* :class:`RandomJigsawWithLabels` (Jigsaw): the same nine tiles, shuffled by one of a fixed set of
  permutations of maximal Hamming distance (:func:`jigsaw_permutations`).
* :class:`LabColorization` (Colorization): the L channel of the CIE Lab image as input, its ab
  channels as the target (:func:`rgb_to_lab` / :func:`lab_to_rgb`, sRGB with a D65 white, in torch).

The first three replace ``results['img']`` by a list of views, as ``MultiView`` does, so that
``SelfSupDataPreprocessor`` normalises them and the algorithm's ``loss`` receives one batch per
view. Targets that follow from the view order (the rotation of view k, the grid position of patch k)
are also stored for inspection; the jigsaw permutation index differs per image and reaches the model
as a ``DataSample`` field: ``PackInputs(algorithm_keys=['jigsaw_label'])``.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['RandomRotationWithLabels', 'RandomPatchWithLabels', 'RandomJigsawWithLabels', 'grid_patches',
           'jigsaw_permutations', 'hamming_distances', 'LabColorization', 'rgb_to_lab', 'lab_to_rgb']

GRID = 3          # patches per side: the 3x3 grid of RelativeLoc and Jigsaw
CENTRE = 4        # the centre patch's index in row-major grid order


def _image(results: dict, owner: str) -> torch.Tensor:
    img = results['img']
    if not isinstance(img, torch.Tensor) or img.ndim != 3:
        raise DataError(f'{owner} takes one (C, H, W) image, got {type(img).__name__}; put it after the '
                        f'per-image transforms and not inside or after MultiView (it makes the views itself).')
    return img


def grid_patches(img: torch.Tensor, patch_jitter: int, owner: str = 'grid_patches') -> tuple[list[torch.Tensor], torch.Tensor]:
    """Nine patches of a 3x3 grid over ``img`` (C, H, W), row-major (index 4 is the centre).

    The grid cells are ``H // 3`` x ``W // 3``; each patch is ``patch_jitter`` pixels smaller than
    its cell in both directions and placed at a random offset in ``[0, patch_jitter]`` inside it
    (Doersch et al.'s gap and jitter: neighbouring patches never touch, so low-level continuity of
    edges and texture cannot give the answer away). Returns the patches and their boxes
    ``(9, 4)`` as ``(x1, y1, x2, y2)`` in image pixels (exclusive ``x2, y2``).
    """
    h, w = img.shape[-2:]
    cell_h, cell_w = h // GRID, w // GRID
    ph, pw = cell_h - patch_jitter, cell_w - patch_jitter
    if patch_jitter < 0 or ph <= 0 or pw <= 0:
        raise ConfigError(f'{owner}: a {h}x{w} image has {cell_h}x{cell_w} grid cells, which leave no patch '
                          f'with patch_jitter={patch_jitter}; resize the image to more than '
                          f'{GRID * (patch_jitter + 1)} px a side first, or lower patch_jitter (>= 0).')
    patches, boxes = [], []
    for i in range(GRID):
        for j in range(GRID):
            y = i * cell_h + int(np.random.randint(0, patch_jitter + 1))
            x = j * cell_w + int(np.random.randint(0, patch_jitter + 1))
            patches.append(img[:, y:y + ph, x:x + pw].contiguous())
            boxes.append((x, y, x + pw, y + ph))
    return patches, torch.tensor(boxes, dtype=torch.long)


@TRANSFORMS.register_module()
class RandomRotationWithLabels(BaseTransform):
    """The image rotated by 0, 90, 180 and 270 degrees, as four views (RotationPred; MMSelfSup's name).

    View ``k`` is ``torch.rot90(img, k, dims=(1, 2))`` (k quarter turns counter-clockwise), so its
    label is ``k``. The image must be square (rotated views are batched together): crop it first.

    Required Keys: ``img`` (a square (C, H, W) tensor).
    Modified Keys: ``img`` (a list of 4 views).
    Added Keys: ``rot_label`` (``LongTensor([0, 1, 2, 3])``: the quarter turns of each view).
    """

    def transform(self, results: dict) -> dict:
        img = _image(results, 'RandomRotationWithLabels')
        if img.shape[-1] != img.shape[-2]:
            raise DataError(f'RandomRotationWithLabels needs square images, got {img.shape[-2]}x{img.shape[-1]} '
                            f'({results.get("img_path", "sample")}); put a square crop or resize (e.g. '
                            f"dict(type='RandomResizedCrop', scale=224)) before it.")
        results['img'] = [torch.rot90(img, k, dims=(1, 2)) for k in range(4)]
        results['rot_label'] = torch.arange(4)
        return results


@TRANSFORMS.register_module()
class RandomPatchWithLabels(BaseTransform):
    """Nine jittered patches of a 3x3 grid, as nine views (RelativeLoc; MMSelfSup's name).

    Views are in row-major grid order; view 4 is the centre. RelativeLoc pairs each neighbour
    ``(0, 1, 2, 3, 5, 6, 7, 8)`` with the centre and classifies its position ``0..7``
    (Doersch et al. 2015, MMSelfSup 0.x's recipe: all eight pairs of each image). See
    :func:`grid_patches` for the gaps and jitter.

    Args:
        patch_jitter: how much smaller than its grid cell each patch is, and the range of its random
            offset inside the cell (MMSelfSup's 21 for 255 px images: 85 px cells, 64 px patches).

    Required Keys: ``img`` ((C, H, W) tensor, at least ``3 * (patch_jitter + 1)`` px a side).
    Modified Keys: ``img`` (a list of 9 patches), ``img_shape`` (the patch size).
    Added Keys: ``patch_label`` (``LongTensor([0, ..., 7])``: the position of each neighbour, in view
    order without the centre), ``patch_box`` ((9, 4) ``x1, y1, x2, y2`` of each patch in the image).
    """

    def __init__(self, patch_jitter: int = 21):
        self.patch_jitter = patch_jitter

    def transform(self, results: dict) -> dict:
        img = _image(results, 'RandomPatchWithLabels')
        patches, boxes = grid_patches(img, self.patch_jitter, 'RandomPatchWithLabels')
        results.update(img=patches, img_shape=tuple(patches[0].shape[-2:]), patch_box=boxes,
                       patch_label=torch.arange(GRID * GRID - 1))
        return results


def hamming_distances(perms: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """How many positions each permutation differs from ``perm`` (n,) in; ``perms`` is given
    position-major, (n, P), which keeps the comparison one fast pass per position."""
    dist = np.zeros(perms.shape[1], np.uint8)
    for k, v in enumerate(perm):
        dist += perms[k] != v
    return dist


@functools.lru_cache(maxsize=8)
def jigsaw_permutations(num_permutations: int = 100, seed: int = 0, num_tiles: int = GRID * GRID) -> torch.Tensor:
    """``num_permutations`` permutations of ``num_tiles`` tiles, far apart in Hamming distance.

    Greedy max-min selection (Noroozi & Favaro 2016, Algorithm 1, with the minimum instead of the
    mean distance): start from a seeded random permutation; repeatedly add the permutation whose
    smallest Hamming distance to those chosen is largest (ties broken by the seeded generator).
    Deterministic for a given ``(num_permutations, seed)``: 100 permutations of 9 tiles are at least
    6 apart, 1000 at least 5. Returns a (num_permutations, num_tiles) long tensor (row ``p``: the
    grid position shown as tile ``k``).
    """
    if not 1 <= num_permutations <= 1000:
        raise ConfigError(f'num_permutations={num_permutations}: choose 1 to 1000 jigsaw permutations '
                          f'(Noroozi & Favaro use 100 to 1000).')
    everything = np.array(list(itertools.permutations(range(num_tiles))), dtype=np.uint8)
    by_position = np.ascontiguousarray(everything.T)
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(everything)))]
    min_dist = hamming_distances(by_position, everything[chosen[0]])
    for _ in range(num_permutations - 1):
        best = np.flatnonzero(min_dist == min_dist.max())
        chosen.append(int(best[rng.integers(len(best))]))
        np.minimum(min_dist, hamming_distances(by_position, everything[chosen[-1]]), out=min_dist)
    return torch.from_numpy(everything[chosen].astype(np.int64))


@TRANSFORMS.register_module()
class RandomJigsawWithLabels(BaseTransform):
    """Nine jittered tiles of a 3x3 grid, shuffled by a random one of a fixed permutation set (Jigsaw).

    The permutation set is :func:`jigsaw_permutations` ``(num_permutations, seed)``; the model's head
    must have ``num_permutations`` classes. View ``k`` is grid tile ``perm[k]`` of the chosen
    permutation ``perm = permutations[jigsaw_label]``. The tiles are cut as RelativeLoc's patches
    (:func:`grid_patches`: gaps and jitter); Noroozi & Favaro take 64 px tiles from 75 px cells of a
    225 px crop (``patch_jitter=11``).

    Args:
        num_permutations: size of the permutation set (the number of classes).
        seed: seed of the permutation set (the same in the transform and wherever it is rebuilt).
        patch_jitter: as in :class:`RandomPatchWithLabels`.

    Required Keys: ``img`` ((C, H, W) tensor, at least ``3 * (patch_jitter + 1)`` px a side).
    Modified Keys: ``img`` (a list of 9 shuffled tiles), ``img_shape`` (the tile size).
    Added Keys: ``jigsaw_label`` (int: the permutation's index; pack it with
    ``PackInputs(algorithm_keys=['jigsaw_label'])``), ``patch_box`` ((9, 4) boxes in grid order).
    """

    def __init__(self, num_permutations: int = 100, seed: int = 0, patch_jitter: int = 11):
        self.num_permutations = num_permutations
        self.seed = seed
        self.patch_jitter = patch_jitter
        self._perms = jigsaw_permutations(num_permutations, seed)

    def transform(self, results: dict) -> dict:
        img = _image(results, 'RandomJigsawWithLabels')
        tiles, boxes = grid_patches(img, self.patch_jitter, 'RandomJigsawWithLabels')
        label = int(np.random.randint(self.num_permutations))
        results.update(img=[tiles[int(p)] for p in self._perms[label]], img_shape=tuple(tiles[0].shape[-2:]),
                       patch_box=boxes, jigsaw_label=label)
        return results


# sRGB (D65) <-> CIE XYZ <-> CIE Lab (IEC 61966-2-1 and CIE 15 formulas)
_RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                            [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_DELTA = 6 / 29


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], shape (..., 3, H, W), to CIE Lab (L in [0, 100], a and b about [-110, 110])."""
    rgb = rgb.float()
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum('ij,...jhw->...ihw', _RGB_TO_XYZ.to(rgb.device), lin)
    t = xyz / _WHITE.to(rgb.device).view(3, 1, 1)
    f = torch.where(t > _DELTA ** 3, t.clamp_min(1e-12) ** (1 / 3), t / (3 * _DELTA ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(-3)
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)), -3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab, shape (..., 3, H, W), to sRGB in [0, 1] (colours outside the sRGB gamut are clipped)."""
    lab = lab.float()
    fy = (lab[..., 0, :, :] + 16) / 116
    f = torch.stack((fy + lab[..., 1, :, :] / 500, fy, fy - lab[..., 2, :, :] / 200), -3)
    t = torch.where(f > _DELTA, f ** 3, 3 * _DELTA ** 2 * (f - 4 / 29))
    xyz = t * _WHITE.to(lab.device).view(3, 1, 1)
    lin = torch.einsum('ij,...jhw->...ihw', torch.linalg.inv(_RGB_TO_XYZ).to(lab.device), xyz).clamp(0, 1)
    return torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055).clamp(0, 1)


@TRANSFORMS.register_module()
class LabColorization(BaseTransform):
    """The image's Lab lightness as the input and its ab colour channels as the target (Colorization).

    Required Keys: ``img`` (a 3-channel RGB (C, H, W) uint8 tensor; greyscale images have no colour
    to learn and are a DataError).
    Modified Keys: ``img`` (the L channel, (1, H, W) uint8: ``round(L * 255 / 100)``).
    Added Keys: ``gt_ab`` ((2, H, W) float32 a and b, in Lab units; pack it with
    ``PackInputs(algorithm_keys=['gt_ab'])``).
    """

    def transform(self, results: dict) -> dict:
        img = _image(results, 'LabColorization')
        if img.shape[0] != 3:
            raise DataError(f'LabColorization needs RGB images, got {img.shape[0]} channel(s) '
                            f'({results.get("img_path", "sample")}); load with the default color_type (colour).')
        lab = rgb_to_lab(img.float() / 255)
        results['img'] = (lab[:1] * 2.55).round().clamp(0, 255).to(torch.uint8)
        results['gt_ab'] = lab[1:].contiguous()
        return results

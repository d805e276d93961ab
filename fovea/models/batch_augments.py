"""Batch augments: mix images and their soft targets on the device (MMPretrain's names and arguments).

Each is a callable ``(inputs (B, C, H, W) float, batch_score (B, num_classes)) -> (inputs, score)``
registered in ``BATCH_AUGMENTS``; the classification data preprocessor applies them in training
after normalisation. Targets stay distributions (rows sum to 1 when the inputs' rows do), so they
compose with label smoothing in the loss. The mixing ratio is drawn from NumPy's global
generator and the partner permutation from torch's, as in MMPretrain.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from fovea.registry import BATCH_AUGMENTS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['Mixup', 'CutMix', 'ResizeMix', 'RandomBatchAugment']


def _check_score(batch_score: torch.Tensor) -> None:
    if batch_score.ndim != 2:
        raise ValueError(f'batch augments need one-hot/soft targets of shape (N, num_classes), got '
                         f'{tuple(batch_score.shape)}; set num_classes (or to_onehot) in the data_preprocessor.')


@BATCH_AUGMENTS.register_module()
class Mixup:
    """mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018).

    ``x = lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)``, targets alike.
    """

    def __init__(self, alpha: float, num_classes: int | None = None):
        if not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ConfigError(f'{type(self).__name__} alpha must be a positive number, got {alpha!r}')
        self.alpha = float(alpha)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam = float(np.random.beta(self.alpha, self.alpha))
        index = torch.randperm(inputs.size(0)).to(inputs.device)
        return lam * inputs + (1 - lam) * inputs[index], lam * scores + (1 - lam) * scores[index]

    def __call__(self, batch_inputs: torch.Tensor, batch_score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_score(batch_score)
        return self.mix(batch_inputs, batch_score.float())

    def __repr__(self) -> str:
        return f'{type(self).__name__}(alpha={self.alpha})'


@BATCH_AUGMENTS.register_module()
class CutMix(Mixup):
    """CutMix (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
    Localizable Features", ICCV 2019): paste a box from a partner image.

    The box side ratio is ``sqrt(1 - lam)`` at a uniform centre, clipped to the image; with
    ``correct_lam`` the target weight is the true kept area. ``cutmix_minmax=(lo, hi)`` draws the box
    sides uniformly in ``[lo, hi)`` of the image sides instead (and always corrects lam).
    """

    def __init__(self, alpha: float, cutmix_minmax: Sequence[float] | None = None, correct_lam: bool = True,
                 num_classes: int | None = None):
        super().__init__(alpha)
        if cutmix_minmax is not None and len(cutmix_minmax) != 2:
            raise ConfigError(f'CutMix cutmix_minmax must be (min, max), got {cutmix_minmax!r}')
        self.cutmix_minmax = cutmix_minmax
        self.correct_lam = correct_lam

    def rand_bbox_minmax(self, img_shape: tuple[int, int]) -> tuple[int, int, int, int]:
        h, w = img_shape
        lo, hi = self.cutmix_minmax  # type: ignore[misc]
        cut_h = np.random.randint(int(h * lo), int(h * hi))
        cut_w = np.random.randint(int(w * lo), int(w * hi))
        yl = np.random.randint(0, h - cut_h)
        xl = np.random.randint(0, w - cut_w)
        return int(yl), int(yl + cut_h), int(xl), int(xl + cut_w)

    def rand_bbox(self, img_shape: tuple[int, int], lam: float, margin: float = 0.) -> tuple[int, int, int, int]:
        ratio = np.sqrt(1 - lam)
        h, w = img_shape
        cut_h, cut_w = int(h * ratio), int(w * ratio)
        my, mx = int(margin * cut_h), int(margin * cut_w)
        cy = np.random.randint(my, h - my)
        cx = np.random.randint(mx, w - mx)
        yl, yh = np.clip(cy - cut_h // 2, 0, h), np.clip(cy + cut_h // 2, 0, h)
        xl, xh = np.clip(cx - cut_w // 2, 0, w), np.clip(cx + cut_w // 2, 0, w)
        return int(yl), int(yh), int(xl), int(xh)

    def cutmix_bbox_and_lam(self, img_shape: tuple[int, int], lam: float):
        if self.cutmix_minmax is not None:
            box = self.rand_bbox_minmax(img_shape)
        else:
            box = self.rand_bbox(img_shape, lam)
        if self.correct_lam or self.cutmix_minmax is not None:
            yl, yu, xl, xu = box
            lam = 1. - (yu - yl) * (xu - xl) / float(img_shape[0] * img_shape[1])
        return box, lam

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam = float(np.random.beta(self.alpha, self.alpha))
        index = torch.randperm(inputs.size(0)).to(inputs.device)
        (y1, y2, x1, x2), lam = self.cutmix_bbox_and_lam(tuple(inputs.shape[-2:]), lam)
        inputs = inputs.clone()
        inputs[:, :, y1:y2, x1:x2] = inputs[index, :, y1:y2, x1:x2]
        return inputs, lam * scores + (1 - lam) * scores[index]


@BATCH_AUGMENTS.register_module()
class ResizeMix(CutMix):
    """ResizeMix (Qin et al., "ResizeMix: Mixing Data with Preserved Object Information and True
    Labels", 2020): paste a whole partner image, resized into the box.

    ``lam ~ Beta(alpha, alpha)`` mapped to ``[lam_min, lam_max]`` sets the box as in CutMix.
    """

    def __init__(self, alpha: float, lam_min: float = 0.1, lam_max: float = 0.8, interpolation: str = 'bilinear',
                 cutmix_minmax: Sequence[float] | None = None, correct_lam: bool = True,
                 num_classes: int | None = None):
        super().__init__(alpha, cutmix_minmax=cutmix_minmax, correct_lam=correct_lam)
        if not 0 <= lam_min <= lam_max <= 1:
            raise ConfigError(f'ResizeMix needs 0 <= lam_min <= lam_max <= 1, got {lam_min}, {lam_max}')
        self.lam_min = lam_min
        self.lam_max = lam_max
        self.interpolation = interpolation

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam = float(np.random.beta(self.alpha, self.alpha)) * (self.lam_max - self.lam_min) + self.lam_min
        index = torch.randperm(inputs.size(0)).to(inputs.device)
        (y1, y2, x1, x2), lam = self.cutmix_bbox_and_lam(tuple(inputs.shape[-2:]), lam)
        inputs = inputs.clone()
        if y2 > y1 and x2 > x1:
            align = False if self.interpolation in ('linear', 'bilinear', 'bicubic', 'trilinear') else None
            inputs[:, :, y1:y2, x1:x2] = F.interpolate(inputs[index], size=(y2 - y1, x2 - x1),
                                                       mode=self.interpolation, align_corners=align)
        return inputs, lam * scores + (1 - lam) * scores[index]


@BATCH_AUGMENTS.register_module()
class RandomBatchAugment:
    """Pick one of ``augments`` per batch with probabilities ``probs`` (uniform when None).

    When ``probs`` sum to less than 1 the remainder is the chance of leaving the batch as is.
    ``num_classes`` is passed on to augments that do not set it.
    """

    def __init__(self, augments: Callable | dict | Sequence[Callable | dict],
                 probs: float | Sequence[float] | None = None, num_classes: int | None = None):
        if not isinstance(augments, (list, tuple)):
            augments = [augments]
        self.augments: list[Callable | None] = []
        with key_scope('augments'):
            for i, aug in enumerate(augments):
                if isinstance(aug, dict):
                    self.augments.append(build(aug, BATCH_AUGMENTS, key=str(i)))
                else:
                    self.augments.append(aug)
        if isinstance(probs, (int, float)):
            probs = [float(probs)]
        if probs is not None:
            probs = [float(p) for p in probs]
            if len(probs) != len(augments):
                raise ConfigError(f'batch_augments: {len(augments)} augments but {len(probs)} probs; give one '
                                  f'probability per augment.')
            if sum(probs) > 1 + 1e-6:
                raise ConfigError(f'batch_augments probs sum to {sum(probs)} > 1.')
            if sum(probs) < 1 - 1e-6:
                self.augments.append(None)
                probs.append(1 - sum(probs))
        self.probs = probs
        self.num_classes = num_classes

    def __call__(self, batch_input: torch.Tensor, batch_score: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = None if self.probs is None else np.asarray(self.probs) / np.sum(self.probs)
        aug = self.augments[np.random.choice(len(self.augments), p=p)]
        if aug is None:
            return batch_input, batch_score.float()
        return aug(batch_input, batch_score)

    def __repr__(self) -> str:
        return f'RandomBatchAugment(augments={self.augments}, probs={self.probs})'

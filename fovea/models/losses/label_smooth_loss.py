"""Label smoothing (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016)."""
from __future__ import annotations

import warnings
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.losses.cross_entropy import CrossEntropyLoss
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['LabelSmoothLoss', 'to_one_hot_like']


def to_one_hot_like(label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B,) or (B, 1) class indices -> (B, C) one-hot floats; (B, C) targets pass through as floats."""
    if label.ndim == 1 or (label.ndim == 2 and label.shape[1] == 1 and num_classes != 1):
        return F.one_hot(label.view(-1).long(), num_classes).float()
    return label.float()


@MODELS.register_module()
class LabelSmoothLoss(nn.Module):
    """Cross-entropy against smoothed targets, with MMPretrain's three modes.

    With ``eps = label_smooth_val`` and C classes:

    * ``'original'``: ``target = (1 - eps) * one_hot + eps / C`` (the Inception-v3 paper).
    * ``'classy_vision'``: ``target = (one_hot + eps / C) / (1 + eps)`` (ClassyVision's form).
    * ``'multi_label'``: positives become ``1 - eps``, negatives ``eps``, scored with sigmoid BCE.

    Args:
        label_smooth_val: eps in [0, 1).
        num_classes: checked against the scores when given.
        use_sigmoid: sigmoid BCE instead of softmax CE (forced on in 'multi_label' mode).
        mode: 'original', 'classy_vision' or 'multi_label'.
        reduction / loss_weight / class_weight / pos_weight: as :class:`CrossEntropyLoss`.
    """

    def __init__(self, label_smooth_val: float, num_classes: int | None = None, use_sigmoid: bool | None = None,
                 mode: str = 'original', reduction: str = 'mean', loss_weight: float = 1.0,
                 class_weight: Sequence[float] | None = None, pos_weight: Sequence[float] | None = None):
        super().__init__()
        if not 0 <= label_smooth_val < 1:
            raise ConfigError(f'LabelSmoothLoss label_smooth_val must be in [0, 1), got {label_smooth_val}')
        modes = ('original', 'classy_vision', 'multi_label')
        if mode not in modes:
            raise ConfigError(f'LabelSmoothLoss mode must be one of {modes}, got {mode!r}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ConfigError(f"LabelSmoothLoss reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        self.num_classes = num_classes
        self.label_smooth_val = label_smooth_val
        self.mode = mode
        self.loss_weight = loss_weight
        self._eps = label_smooth_val / (1 + label_smooth_val) if mode == 'classy_vision' else label_smooth_val
        if mode == 'multi_label':
            if use_sigmoid is False:
                warnings.warn("LabelSmoothLoss mode='multi_label' uses sigmoid BCE; use_sigmoid=False is ignored")
            use_sigmoid = True
        self.use_sigmoid = bool(use_sigmoid)
        self.ce = CrossEntropyLoss(use_sigmoid=self.use_sigmoid, use_soft=not self.use_sigmoid, reduction=reduction,
                                   class_weight=class_weight, pos_weight=pos_weight)

    def original_smooth_label(self, one_hot: torch.Tensor) -> torch.Tensor:
        """``(1 - eps) * target + eps / C`` for (B, C) one-hot or mixed targets ('original' and
        'classy_vision' modes; MMPretrain's method name)."""
        return one_hot * (1 - self._eps) + self._eps / one_hot.shape[1]

    def multilabel_smooth_label(self, one_hot: torch.Tensor) -> torch.Tensor:
        """Positives ``1 - eps``, negatives ``eps`` ('multi_label' mode)."""
        return torch.where(one_hot > 0, 1 - self._eps, self._eps).to(one_hot.dtype)

    def smooth(self, one_hot: torch.Tensor) -> torch.Tensor:
        """Smooth (B, C) one-hot (or multi-hot) targets as the mode says."""
        if self.mode == 'multi_label':
            return self.multilabel_smooth_label(one_hot)
        return self.original_smooth_label(one_hot)

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        num_classes = cls_score.shape[1]
        if self.num_classes is not None and self.num_classes != num_classes:
            raise ValueError(f'LabelSmoothLoss(num_classes={self.num_classes}) got scores for {num_classes} classes')
        target = to_one_hot_like(label, num_classes)
        if target.shape != cls_score.shape:
            raise ValueError(f'target shape {tuple(target.shape)} does not match scores {tuple(cls_score.shape)}')
        return self.loss_weight * self.ce(cls_score, self.smooth(target), weight=weight, avg_factor=avg_factor,
                                          reduction_override=reduction_override)

"""Cross-entropy loss for hard labels, soft (mixed) targets, label smoothing and sigmoid (multi-label)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['CrossEntropyLoss', 'reduce_loss']


def reduce_loss(loss: torch.Tensor, reduction: str, weight: torch.Tensor | None = None,
                avg_factor: float | None = None) -> torch.Tensor:
    """Apply per-sample weights, then reduce ('none', 'mean' or 'sum'; ``avg_factor`` overrides the mean's count)."""
    if weight is not None:
        loss = loss * weight
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction == 'mean':
        return loss.sum() / avg_factor if avg_factor is not None else loss.mean()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax (or sigmoid) cross-entropy.

    Targets are class indices of shape (B,) or scores of shape (B, C) (one-hot,
    mixed or smoothed); both work with every option.

    Args:
        use_sigmoid: binary cross-entropy per class (multi-label).
        use_soft: kept for MMPretrain configs; soft targets are detected from their shape. Refused
            together with ``use_sigmoid`` (as in MMPretrain).
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: multiplier of the loss.
        class_weight: per-class weights (length C).
        pos_weight: positive-class weights for the sigmoid form.
        label_smooth_val: label smoothing epsilon (0 disables): targets become
            ``(1 - eps) * onehot + eps / C``.
    """

    def __init__(self, use_sigmoid: bool = False, use_soft: bool = False, reduction: str = 'mean',
                 loss_weight: float = 1.0, class_weight: Sequence[float] | None = None,
                 pos_weight: Sequence[float] | None = None, label_smooth_val: float = 0.0):
        super().__init__()
        if use_sigmoid and use_soft:
            raise ConfigError('CrossEntropyLoss: use_sigmoid=True and use_soft=True cannot be set together; '
                              'the sigmoid form already takes soft (B, C) targets.')
        self.use_sigmoid = use_sigmoid
        self.use_soft = use_soft
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = class_weight
        self.pos_weight = pos_weight
        if not 0 <= label_smooth_val < 1:
            raise ConfigError(f'label_smooth_val must be in [0, 1), got {label_smooth_val}')
        self.label_smooth_val = label_smooth_val

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None,
                avg_factor: float | None = None, reduction_override: str | None = None) -> torch.Tensor:
        reduction = reduction_override or self.reduction
        num_classes = cls_score.shape[-1]
        cls_score = cls_score.float()
        class_weight = (cls_score.new_tensor(self.class_weight) if self.class_weight is not None else None)
        if label.ndim == 1 and (self.label_smooth_val > 0 or self.use_sigmoid):
            label = F.one_hot(label, num_classes).to(cls_score.dtype)
        if label.ndim == 2 and self.label_smooth_val > 0:
            label = label * (1 - self.label_smooth_val) + self.label_smooth_val / num_classes
        if self.use_sigmoid:
            pos_weight = cls_score.new_tensor(self.pos_weight) if self.pos_weight is not None else None
            # element-wise (B, C), summed over classes by the reduction as MMPretrain does: with
            # avg_factor=B the loss is the per-sample sum over classes, averaged over the batch
            loss = F.binary_cross_entropy_with_logits(cls_score, label.to(cls_score.dtype), weight=class_weight,
                                                      pos_weight=pos_weight, reduction='none')
            if weight is not None and weight.ndim == 1:
                weight = weight[:, None]
        elif label.ndim == 1:
            loss = F.cross_entropy(cls_score, label, weight=class_weight, reduction='none')
        else:
            logp = F.log_softmax(cls_score, dim=-1)
            if class_weight is not None:
                logp = logp * class_weight
            loss = -(label.to(logp.dtype) * logp).sum(-1)
        if weight is not None:
            weight = weight.float()
        return self.loss_weight * reduce_loss(loss, reduction, weight, avg_factor)

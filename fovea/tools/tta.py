"""Test-time augmentation for classifiers: average the predicted scores over flips and crops.

:func:`enable_tta` replaces a model's ``val_step``/``test_step`` (on the instance only; its weights and
state-dict names are untouched) with one that runs several views of each preprocessed batch
through ``mode='predict'`` and averages the heads' ``pred_score``:

* ``flip``: the batch and its horizontal mirror;
* ``multi_crop``: additionally the four corner crops and the centre crop covering ``crop_ratio`` of
  each side, resized back to the input size (the "five crops" evaluation, done on the model's input).
"""
from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['tta_views', 'enable_tta', 'disable_tta']


def tta_views(x: torch.Tensor, flip: bool = True, multi_crop: bool = False,
              crop_ratio: float = 0.875) -> list[torch.Tensor]:
    """The augmented copies of a (B, C, H, W) batch, the original first."""
    views = [x]
    if multi_crop:
        h, w = x.shape[-2:]
        ch, cw = max(1, round(h * crop_ratio)), max(1, round(w * crop_ratio))
        offsets = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
        for top, left in offsets:
            crop = x[..., top:top + ch, left:left + cw]
            views.append(F.interpolate(crop, size=(h, w), mode='bilinear', align_corners=False))
    if flip:
        views += [v.flip(-1) for v in views]
    return views


def enable_tta(model: nn.Module, flip: bool = True, multi_crop: bool = False, crop_ratio: float = 0.875) -> nn.Module:
    """Make ``model.val_step``/``test_step`` average predictions over :func:`tta_views`; returns ``model``."""
    if not (flip or multi_crop):
        raise ValueError('enable_tta needs flip=True or multi_crop=True')

    def tta_step(self, data: dict) -> list:
        data = self.data_preprocessor(data, False)
        x, samples = data['inputs'], data['data_samples']
        total: torch.Tensor | None = None
        views = tta_views(x, flip, multi_crop, crop_ratio)
        for v in views:
            out = self(v, None, mode='predict')
            scores = torch.stack([s.pred_score.float() for s in out])
            total = scores if total is None else total + scores
        mean = total / len(views)
        if samples is None:
            from fovea.structures import DataSample
            samples = [DataSample() for _ in range(mean.shape[0])]
        head = getattr(self, 'head', None)
        multi_label = hasattr(head, 'thr') and hasattr(head, 'topk') and not isinstance(head.topk, tuple)
        for s, sc in zip(samples, mean):
            s.set_pred_score(sc)
            if multi_label:  # MultiLabelClsHead: classes above thr, else the top-k
                s.set_pred_label(torch.where(sc >= head.thr)[0] if head.thr is not None else sc.topk(head.topk).indices)
            else:
                s.set_pred_label(sc.argmax())
        return samples

    model._tta_config = dict(flip=flip, multi_crop=multi_crop, crop_ratio=crop_ratio)
    model.val_step = types.MethodType(tta_step, model)
    model.test_step = types.MethodType(tta_step, model)
    return model


def disable_tta(model: nn.Module) -> nn.Module:
    """Undo :func:`enable_tta`."""
    for name in ('val_step', 'test_step', '_tta_config'):
        model.__dict__.pop(name, None)
    return model

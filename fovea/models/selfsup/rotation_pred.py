"""RotationPred (Gidaris et al., "Unsupervised Representation Learning by Predicting Image Rotations",
ICLR 2018) with MMSelfSup 0.x's name."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor, pretext_cls_loss
from fovea.registry import MODELS

__all__ = ['RotationPred']


@MODELS.register_module()
class RotationPred(BaseSelfSupervisor):
    """Classify which of 0, 90, 180, 270 degrees each image was rotated by (4-way cross-entropy).

    The pipeline's ``RandomRotationWithLabels`` gives four views per image, view ``k`` rotated by
    ``k`` quarter turns; all four go through the backbone as one batch, then the (pooling) neck and a
    4-class head, e.g. ``neck=dict(type='GlobalAveragePooling')``,
    ``head=dict(type='LinearClsHead', num_classes=4, in_channels=512)``.
    """

    num_views = 4

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        views = self.views(inputs)
        feats = self.backbone(torch.cat(views))
        if self.with_neck:
            feats = self.neck(feats)
        target = torch.arange(4, device=views[0].device).repeat_interleave(len(views[0]))
        return pretext_cls_loss(self.head, feats, target)

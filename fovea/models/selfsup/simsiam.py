"""SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021,
arXiv:2011.10566) with MMPretrain's names and arguments."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS

__all__ = ['SimSiam']


@MODELS.register_module()
class SimSiam(BaseSelfSupervisor):
    """One network, two views: the predictor (``LatentPredictHead``) of each view's projection
    (``NonLinearNeck``, 3 layers, non-affine last BN) predicts the other's, stopped-gradient.
    Loss ``(l(z1 -> z2) + l(z2 -> z1)) / 2`` with ``l = -cos`` (``CosineSimilarityLoss``).

    MMPretrain's recipe keeps the predictor's learning rate fixed: ``paramwise_cfg.custom_keys=
    {'predictor': dict(fix_lr=True)}`` marks its parameter group and ``SimSiamHook`` resets it.
    """

    num_views = 2

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(inputs)
        z1, z2 = self.neck(self.backbone(v1))[0], self.neck(self.backbone(v2))[0]
        return dict(loss=0.5 * (self.head.loss(z1, z2) + self.head.loss(z2, z1)))

"""Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
ICML 2021) with MMPretrain's names and arguments."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS

__all__ = ['BarlowTwins']


@MODELS.register_module()
class BarlowTwins(BaseSelfSupervisor):
    """Embeddings of two views whose cross-correlation over the global batch is pushed to the
    identity (``LatentCrossCorrelationHead`` with ``CrossCorrelationLoss``, lambda 0.0051)."""

    num_views = 2
    min_batch_size = (2, 'its loss standardises each embedding dimension over the batch')

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(inputs)
        z1, z2 = self.neck(self.backbone(v1))[0], self.neck(self.backbone(v2))[0]
        return dict(loss=self.head.loss(z1, z2))

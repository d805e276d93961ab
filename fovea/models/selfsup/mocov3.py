"""MoCo v3 (Chen et al., "An Empirical Study of Training Self-Supervised Vision Transformers", ICCV
2021, arXiv:2104.02057) with MMPretrain's names, arguments and state-dict keys
(``momentum_encoder.module.0/1.*``). Its ViT is :class:`fovea.models.backbones.MoCoV3ViT`."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.utils.averaged_model import CosineEMA
from fovea.registry import MODELS

__all__ = ['MoCoV3']


@MODELS.register_module()
class MoCoV3(BaseSelfSupervisor):
    """Queries of each view from the online encoder (backbone, projector ``neck``, predictor in
    ``MoCoV3Head``) against the keys of the other view from the momentum encoder, a cosine-annealed
    average of backbone and projector; symmetrised: ``head.loss(q1, k2) + head.loss(q2, k1)``.

    Args:
        base_momentum: weight of the online weights in each update of the momentum encoder at the
            start of the run, annealed to 0 along a cosine over the run (MoCo v3's m 0.99 -> 1 is
            0.01; 0.004 for 1000 epochs, MMPretrain's convention: small momentum = slow update).

    The momentum encoder is a copy of the online one at the first step and is averaged after
    each optimizer step (``after_optimizer_step``), the same schedule as MMPretrain's update at
    the start of the next step.
    """

    num_views = 2

    def __init__(self, backbone: dict, neck: dict, head: dict, base_momentum: float = 0.01,
                 pretrained: str | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.momentum_encoder = CosineEMA(nn.Sequential(self.backbone, self.neck), momentum=base_momentum)

    def init_weights(self) -> None:
        super().init_weights()
        self.momentum_encoder.restart()     # the first step copies the initialised online encoder

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(inputs)
        q1 = self.neck(self.backbone(v1))[0]
        q2 = self.neck(self.backbone(v2))[0]
        with torch.no_grad():
            if self.momentum_encoder.num_updates() == 0:   # the first step copies (no device sync per step)
                self.momentum_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))
            k1, k2 = self.momentum_encoder(v1)[0], self.momentum_encoder(v2)[0]
        return dict(loss=self.head.loss(q1, k2) + self.head.loss(q2, k1))

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        self.momentum_encoder.max_iters = max_steps
        self.momentum_encoder.update_parameters(nn.Sequential(self.backbone, self.neck))

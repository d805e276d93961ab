"""BYOL (Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020) with MMPretrain's names, arguments
and state-dict keys (``target_net.module.*``)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.utils.averaged_model import CosineEMA
from fovea.registry import MODELS

__all__ = ['BYOL']


@MODELS.register_module()
class BYOL(BaseSelfSupervisor):
    """The online network (backbone, projector ``neck``, predictor in ``head``) predicts the target
    network's projection of the other view; the target is a cosine-annealed momentum average of the
    online backbone and projector (momentum ``base_momentum`` -> 0 over the run, BYOL's tau
    0.99 -> 1). Loss: ``2 * (l(v1 -> v2) + l(v2 -> v1))`` with ``l = -cos`` (MMPretrain's scale).
    """

    num_views = 2

    def __init__(self, backbone: dict, neck: dict, head: dict, base_momentum: float = 0.004,
                 pretrained: str | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.target_net = CosineEMA(nn.Sequential(self.backbone, self.neck), momentum=base_momentum)

    def init_weights(self) -> None:
        super().init_weights()
        self.target_net.restart()         # the first step copies the initialised online network

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(inputs)
        online_1 = self.neck(self.backbone(v1))[0]
        online_2 = self.neck(self.backbone(v2))[0]
        with torch.no_grad():
            if self.target_net.num_updates() == 0:   # the first step copies (no device sync per step)
                self.target_net.update_parameters(nn.Sequential(self.backbone, self.neck))
            target_1, target_2 = self.target_net(v1)[0], self.target_net(v2)[0]
        loss = 2. * (self.head.loss(online_1, target_2) + self.head.loss(online_2, target_1))
        return dict(loss=loss)

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        self.target_net.max_iters = max_steps
        self.target_net.update_parameters(nn.Sequential(self.backbone, self.neck))

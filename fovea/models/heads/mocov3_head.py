"""MoCo v3's head (MMPretrain's ``MoCoV3Head``): the predictor and the contrastive loss against the
momentum encoder's keys of the whole global batch."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.dist import concat_all_gather, get_dist_info

__all__ = ['MoCoV3Head']


@MODELS.register_module()
class MoCoV3Head(BaseModule):
    """``loss(base_out, momentum_out)``: InfoNCE of the predicted queries against the keys of every
    image of the global batch (every rank's, gathered), the key of the same image the positive.

    Args:
        predictor: the prediction MLP (a neck config, e.g. ``NonLinearNeck``).
        loss: the loss on the (N, N x world) logits and the positives' indices (MMPretrain:
            ``CrossEntropyLoss(loss_weight=2 * temperature)``, MoCo v3's ``2 * tau`` factor).
        temperature: divides the cosine similarities (MoCo v3: 0.2 for ViT, 1.0 for ResNet).

    The keys carry no gradient (they come from the momentum encoder), so a plain gather suffices;
    each rank's loss is the mean over its own queries, and DDP's gradient average makes it the loss
    of one process on the global batch.
    """

    def __init__(self, predictor: dict, loss: dict, temperature: float = 1.0, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.predictor = MODELS.build(predictor, key='predictor')
        self.loss_module = MODELS.build(loss, key='loss')
        self.temperature = temperature

    def loss(self, base_out: torch.Tensor, momentum_out: torch.Tensor) -> torch.Tensor:
        pred = F.normalize(self.predictor([base_out])[0], dim=1)
        keys = concat_all_gather(F.normalize(momentum_out.detach(), dim=1))
        logits = pred @ keys.t() / self.temperature
        rank, _ = get_dist_info()
        labels = torch.arange(len(pred), device=logits.device) + rank * len(pred)
        return self.loss_module(logits, labels)

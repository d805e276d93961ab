"""Heads that compare latent vectors: BYOL/SimSiam's predictor head and Barlow Twins' cross-correlation."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.dist import all_reduce_with_grad, get_dist_info

__all__ = ['LatentPredictHead', 'LatentCrossCorrelationHead']


@MODELS.register_module()
class LatentPredictHead(BaseModule):
    """``loss(input, target)``: ``loss(predictor(input), target.detach())`` (BYOL, SimSiam)."""

    def __init__(self, loss: dict, predictor: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss, key='loss')
        self.predictor = MODELS.build(predictor, key='predictor')

    def loss(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_module(self.predictor([input])[0], target.detach())


@MODELS.register_module()
class LatentCrossCorrelationHead(BaseModule):
    """Barlow Twins: the cross-correlation of the batch-normalised embeddings of the two views over
    the global batch, fed to the loss.

    The matrix is summed over ranks with a differentiable all-reduce, so under DDP the gradient is
    that of one process on the global batch (MMPretrain sums it without a gradient path through the
    other ranks' terms, which shrinks every gradient by the number of processes). The per-feature
    normalisation uses this process's batch statistics (as MMPretrain; SyncBN-like statistics would
    need ``env_cfg.sync_bn``).
    """

    def __init__(self, in_channels: int, loss: dict, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.bn = nn.BatchNorm1d(in_channels, affine=False)
        self.loss_module = MODELS.build(loss, key='loss')

    def loss(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _, world = get_dist_info()
        c = self.bn(input).t() @ self.bn(target) / (input.size(0) * world)
        return self.loss_module(all_reduce_with_grad(c))

"""SwAVLoss: swapped prediction of Sinkhorn-Knopp cluster codes (Caron et al., "Unsupervised Learning of
Visual Features by Contrasting Cluster Assignments", NeurIPS 2020, arXiv:2006.09882), with MMPretrain's
names, arguments and state-dict keys (``prototypes.weight``)."""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.dist import get_dist_info, is_distributed
from fovea.utils.errors import ConfigError

__all__ = ['SwAVLoss', 'distributed_sinkhorn']


def _all_reduce(t: torch.Tensor, op: dist.ReduceOp.RedOpType = dist.ReduceOp.SUM) -> torch.Tensor:
    if is_distributed():
        dist.all_reduce(t, op=op)
    return t


@torch.no_grad()
def distributed_sinkhorn(out: torch.Tensor, sinkhorn_iterations: int, world_size: int,
                         epsilon: float) -> torch.Tensor:
    """Soft cluster assignments of the (B, K) prototype scores of all ranks' samples, equipartitioned.

    Sinkhorn-Knopp on ``Q = exp(out / epsilon)``: alternately scale every prototype's total over the
    global batch to ``1 / K`` (an all-reduce) and every sample's row to ``1 / B``; returns this rank's
    rows of the final Q, each summing to 1. Computed in float32; the scores are shifted by their
    global maximum first (it cancels in the first normalisation and keeps ``exp`` finite for small
    ``epsilon``). MMPretrain all-reduces the prototype totals only when one of them is 0, so its
    ranks equipartition their own samples; here they are summed over ranks on every iteration (the
    SwAV authors' code), so 2 processes give the codes of one process on the global batch.
    """
    scores = out.float() / epsilon
    top = _all_reduce(scores.max().clone(), dist.ReduceOp.MAX)
    q = torch.exp(scores - top).t()                       # (K, B): prototypes x this rank's samples
    num_prototypes, total = q.size(0), q.size(1) * world_size
    q /= _all_reduce(q.sum())
    for _ in range(sinkhorn_iterations):
        per_prototype = _all_reduce(q.sum(1, keepdim=True))
        # a prototype nobody scores: smooth all entries by 1e-12 (MMPretrain), without a host sync
        q += (per_prototype == 0).any() * 1e-12
        per_prototype = _all_reduce(q.sum(1, keepdim=True))
        q /= per_prototype * num_prototypes
        q /= q.sum(0, keepdim=True) * total
    return (q * total).t()


@MODELS.register_module()
class SwAVLoss(BaseModule):
    """Each crop in ``crops_for_assign`` gets codes ``q`` (Sinkhorn over its prototype scores, with the
    queue's scores in front when the queue is full); every other crop predicts them:
    ``mean over assigned crops of mean over the others of CE(q, softmax(scores / temperature))``.

    Args:
        feat_dim: embedding width (the neck's out_channels).
        sinkhorn_iterations / epsilon: Sinkhorn-Knopp iterations and entropy regularisation.
        temperature: softmax temperature of the predictions.
        crops_for_assign: the crops whose codes are predicted (MMPretrain: the two global crops).
        num_crops: crops per image in each resolution group (``[2, 6]``: 2 of 224 px, 6 of 96 px).
        num_prototypes: number of prototypes (``prototypes``, a bias-free linear layer whose rows are
            L2-normalised at every forward).

    The queue (``SwAVHook(queue_length, epoch_queue_starts)`` creates it) holds this rank's most recent
    embeddings of the assigned crops, newest first; the step's embeddings enter it after the optimizer
    step (``update_queue``, called by ``SwAV.after_optimizer_step``). Like MMPretrain's it is not in
    the state dict.
    """

    def __init__(self, feat_dim: int, sinkhorn_iterations: int = 3, epsilon: float = 0.05,
                 temperature: float = 0.1, crops_for_assign: list[int] = [0, 1], num_crops: list[int] = [2],
                 num_prototypes: int = 3000, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if not isinstance(num_prototypes, int) or num_prototypes <= 0:
            raise ConfigError(f'SwAVLoss num_prototypes must be a positive int, got {num_prototypes!r} (several '
                              f'prototype sets, a list, are not supported: MMPretrain builds them but its loss '
                              f'cannot run them).')
        self.sinkhorn_iterations = sinkhorn_iterations
        self.epsilon = epsilon
        self.temperature = temperature
        self.crops_for_assign = list(crops_for_assign)
        self.num_crops = list(num_crops)
        if max(self.crops_for_assign) >= sum(self.num_crops):
            raise ConfigError(f'SwAVLoss crops_for_assign={self.crops_for_assign} names a crop beyond the '
                              f'{sum(self.num_crops)} of num_crops={self.num_crops}.')
        self.prototypes = nn.Linear(feat_dim, num_prototypes, bias=False)
        self.use_queue = False
        self.register_buffer('queue', None, persistent=False)   # (len(crops_for_assign), length, feat_dim)
        self._pending: list[tuple[int, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        scores = self.prototypes(x)
        embedding = x.detach()
        n_crops = sum(self.num_crops)
        if len(x) % n_crops:
            raise ConfigError(f'SwAVLoss: {len(x)} embeddings are not a multiple of the {n_crops} crops of '
                              f'num_crops={self.num_crops}; make num_crops match the MultiView num_views.')
        bs = len(x) // n_crops
        _, world = get_dist_info()
        log_probs = F.log_softmax(scores / self.temperature, dim=1)
        loss = 0.
        for i, crop in enumerate(self.crops_for_assign):
            rows = slice(bs * crop, bs * (crop + 1))
            with torch.no_grad():
                out = scores[rows].detach()
                if self.queue is not None:
                    if self.use_queue or not bool((self.queue[i, -1] == 0).all()):   # used once full
                        self.use_queue = True
                        out = torch.cat((self.queue[i] @ self.prototypes.weight.t(), out))
                    self._pending.append((i, embedding[rows]))
                codes = distributed_sinkhorn(out, self.sinkhorn_iterations, world, self.epsilon)[-bs:]
            others = [v for v in range(n_crops) if v != crop]
            sub = sum(-(codes * log_probs[bs * v:bs * (v + 1)]).sum(1).mean() for v in others)
            loss = loss + sub / len(others)
        return loss / len(self.crops_for_assign)

    @torch.no_grad()
    def update_queue(self) -> None:
        """Shift the pending embeddings into the front of the queue (called after the optimizer step)."""
        for i, emb in self._pending:
            if self.queue is None:
                break
            n = len(emb)
            self.queue[i, n:] = self.queue[i, :-n].clone()
            self.queue[i, :n] = emb
        self._pending.clear()

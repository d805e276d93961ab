"""SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
ICML 2020, arXiv:2002.05709) with MMPretrain's config names."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.dist import all_gather_with_grad, get_dist_info

__all__ = ['SimCLR', 'nt_xent_logits']


def nt_xent_logits(z_local: torch.Tensor, z_all: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarities of this rank's embeddings with every rank's, split as (positive, negatives).

    Rows ``2i`` and ``2i + 1`` are the two views of one image (in ``z_all`` too, whose rows
    ``offset .. offset + len(z_local)`` are ``z_local``). Returns ``pos (n, 1)`` and ``neg (n, 2N - 2)``:
    each row against its partner view, and against every other embedding but itself.
    """
    z_local, z_all = F.normalize(z_local, dim=1, eps=1e-10), F.normalize(z_all, dim=1, eps=1e-10)
    sim = z_local @ z_all.t()
    rows = torch.arange(len(z_local), device=sim.device)
    own = rows + offset
    partner = own ^ 1
    pos = sim[rows, partner].unsqueeze(1)
    keep = torch.ones_like(sim, dtype=torch.bool)
    keep[rows, own] = False
    keep[rows, partner] = False
    neg = sim[keep].view(len(z_local), -1)
    return pos, neg


@MODELS.register_module()
class SimCLR(BaseSelfSupervisor):
    """Two augmented views per image; a projection (``NonLinearNeck``) of each; InfoNCE with the
    other view as the positive and all other embeddings of the global batch (every rank's, through
    a gradient-carrying all-gather) as negatives (``ContrastiveHead``, temperature 0.1).

    Each rank computes the loss of its own rows against the global batch, so the gradient equals
    one process computing it on the global batch, without repeating the (2N x 2N) work per rank.
    """

    num_views = 2
    min_batch_size = (2, 'the other images of the batch are its negatives')

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(inputs)
        rank = get_dist_info()[0]
        x = torch.stack((v1, v2), 1).flatten(0, 1)           # rows 2i, 2i+1: the views of image i
        z = self.neck(self.backbone(x))[0]
        z_all = all_gather_with_grad(z)
        pos, neg = nt_xent_logits(z, z_all, offset=rank * len(z))
        return dict(loss=self.head.loss(pos, neg))

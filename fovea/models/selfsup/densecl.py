"""DenseCL (Wang et al., "Dense Contrastive Learning for Self-Supervised Visual Pre-Training", CVPR
2021, arXiv:2011.09157) with MMPretrain's names, arguments and state-dict keys (``encoder_k.module.*``,
``queue``/``queue_ptr`` and ``queue2``/``queue2_ptr``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.selfsup.moco import MoCo, push_keys
from fovea.registry import MODELS

__all__ = ['DenseCL']


@MODELS.register_module()
class DenseCL(MoCo):
    """MoCo v2 plus a dense contrastive loss: each cell of the query view's dense projection
    (``DenseCLNeck``) is matched to the key view's cell whose *backbone* feature is most similar, and
    contrasted against a second queue (``queue2``) of pooled dense keys.

    ``loss_single * (1 - loss_lambda) + loss_dense * loss_lambda`` (MMPretrain logs both).
    ``DenseCLHook(start_iters)`` holds ``loss_lambda`` at 0 for the first iterations. The key encoder
    and both queues follow the optimizer steps as MoCo's do. With ``DenseCLNeck(num_grid=S)`` the
    backbone cells are average-pooled to the same S x S grid before matching (MMPretrain matches the
    unpooled cells against the pooled grid, an index error unless the map is already S x S).
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, queue_len: int = 65536, feat_dim: int = 128,
                 momentum: float = 0.001, loss_lambda: float = 0.5, pretrained: str | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, queue_len=queue_len, feat_dim=feat_dim,
                         momentum=momentum, pretrained=pretrained, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.loss_lambda = loss_lambda
        self.register_buffer('queue2', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue2_ptr', torch.zeros(1, dtype=torch.long))
        self._pending_keys2: list[torch.Tensor] = []

    @staticmethod
    def _embed(backbone: nn.Module, neck: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """L2-normalised (global, dense (N, C, S*S), pooled dense, backbone cells (N, C_b, S*S))."""
        feats = backbone(x)
        global_feat, dense, pooled = neck(feats)
        cells = feats[0]
        if getattr(neck, 'num_grid', None) is not None:    # match on the grid the dense projection uses
            cells = F.adaptive_avg_pool2d(cells, neck.num_grid)
        cells = cells.flatten(2)
        return tuple(F.normalize(t, dim=1) for t in (global_feat, dense, pooled, cells))

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        im_q, im_k = self.views(inputs)
        q, q_grid, _, q_cells = self._embed(self.backbone, self.neck, im_q)
        with torch.no_grad():
            if self.encoder_k.num_updates() == 0:   # the first step copies (no device sync per step)
                self.encoder_k.update_parameters(nn.Sequential(self.backbone, self.neck))
            k, k_grid, k2, k_cells = self._embed(self.encoder_k.module[0], self.encoder_k.module[1], im_k)
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q @ self.queue.clone().detach()
        # each query cell's partner: the key cell with the most similar backbone feature
        match = (q_cells.transpose(1, 2) @ k_cells).argmax(2)                       # (N, S*S)
        k_matched = torch.gather(k_grid, 2, match.unsqueeze(1).expand(-1, k_grid.size(1), -1))
        l_pos_dense = (q_grid * k_matched).sum(1).reshape(-1, 1)
        q_cells_flat = q_grid.transpose(1, 2).reshape(-1, q_grid.size(1))           # (N*S*S, C)
        l_neg_dense = q_cells_flat @ self.queue2.clone().detach()
        self._pending_keys.append(self._gather_keys(k))
        self._pending_keys2.append(self._gather_keys(k2))
        return dict(loss_single=self.head.loss(l_pos, l_neg) * (1 - self.loss_lambda),
                    loss_dense=self.head.loss(l_pos_dense, l_neg_dense) * self.loss_lambda)

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        super().after_optimizer_step(step, max_steps)
        push_keys(self.queue2, self.queue2_ptr, self._pending_keys2)

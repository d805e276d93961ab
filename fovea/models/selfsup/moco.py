"""MoCo v1/v2 (He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR
2020; Chen et al., "Improved Baselines with Momentum Contrastive Learning", arXiv:2003.04297) with
MMPretrain's names, arguments and state-dict keys (``encoder_k.module.*``, ``queue``, ``queue_ptr``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.utils.averaged_model import ExponentialMovingAverage
from fovea.registry import MODELS
from fovea.utils.dist import concat_all_gather, get_dist_info
from fovea.utils.errors import ConfigError

__all__ = ['MoCo', 'push_keys']


@MODELS.register_module()
class MoCo(BaseSelfSupervisor):
    """Queries from the online encoder, keys from its momentum average (``encoder_k``), InfoNCE
    against the key of the other view and a queue of ``queue_len`` past keys.

    Args:
        queue_len / feat_dim: the key queue (MoCo: 65,536 keys of 128 dims).
        momentum: weight of the online weights in each update of ``encoder_k`` (0.001: MoCo's 0.999).

    The key encoder is copied from the online one at the first step and averaged after each
    optimizer step; the step's keys (gathered from every rank) enter the queue after the update,
    also those of gradient-accumulation micro-steps.
    """

    num_views = 2

    def __init__(self, backbone: dict, neck: dict, head: dict, queue_len: int = 65536, feat_dim: int = 128,
                 momentum: float = 0.001, pretrained: str | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.encoder_k = ExponentialMovingAverage(nn.Sequential(self.backbone, self.neck), momentum)
        self.queue_len = queue_len
        self.register_buffer('queue', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self._pending_keys: list[torch.Tensor] = []

    def init_weights(self) -> None:
        super().init_weights()
        self.encoder_k.restart()          # the first step copies the initialised online encoder

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        im_q, im_k = self.views(inputs)
        q = F.normalize(self.neck(self.backbone(im_q))[0], dim=1)
        with torch.no_grad():
            if self.encoder_k.num_updates() == 0:   # the first step copies (no device sync per step)
                self.encoder_k.update_parameters(nn.Sequential(self.backbone, self.neck))
            k = F.normalize(self.encoder_k(im_k)[0], dim=1)
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q @ self.queue.clone().detach()
        self._pending_keys.append(self._gather_keys(k))
        return dict(loss=self.head.loss(l_pos, l_neg))

    def _gather_keys(self, k: torch.Tensor) -> torch.Tensor:
        """This step's keys of every rank (rank order), to enter a queue after the optimizer step."""
        keys = concat_all_gather(k)
        if self.queue_len % len(keys):
            raise ConfigError(f'{type(self).__name__} queue_len={self.queue_len} must be a multiple of the global '
                              f'batch ({len(keys)} keys per step: batch_size x processes).')
        return keys

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        self.encoder_k.update_parameters(nn.Sequential(self.backbone, self.neck))
        push_keys(self.queue, self.queue_ptr, self._pending_keys)


@torch.no_grad()
def push_keys(queue: torch.Tensor, queue_ptr: torch.Tensor, pending: list[torch.Tensor]) -> None:
    """Write the pending (n, C) key batches into the (C, queue_len) ring ``queue`` at ``queue_ptr``
    (oldest keys overwritten), and empty ``pending``."""
    for keys in pending:
        ptr = int(queue_ptr)
        queue[:, ptr:ptr + len(keys)] = keys.t()
        queue_ptr[0] = (ptr + len(keys)) % queue.size(1)
    pending.clear()

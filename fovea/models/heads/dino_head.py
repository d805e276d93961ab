"""DINO's loss with teacher centering and sharpening (MMPretrain project's ``DINOHead``; DINO's
``DINOLoss``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.dist import all_reduce_mean
from fovea.utils.errors import ConfigError

__all__ = ['DINOHead']


@MODELS.register_module()
class DINOHead(BaseModule):
    """Cross-entropy between the teacher's centred, sharpened distribution over the prototypes of
    each global crop and the student's distribution of every other crop (Caron et al. 2021, eq. 1):

        P_t = softmax((t - C) / teacher_temp),  P_s = softmax(s / student_temp),
        loss = mean over pairs (global crop i, crop j != i) of mean over images of -sum P_t log P_s

    Args:
        out_channels: number of prototypes (the neck's ``out_channels``).
        num_crops: crops per image, the 2 global ones first (2 + local_crops_number).
        student_temp: 0.1.
        center_momentum: ``C <- m C + (1 - m) mean(teacher outputs of the global batch)``, 0.9.
        teacher_temp: 0.04; warmed up from ``warmup_teacher_temp`` by ``DINOTeacherTempWarmupHook``.

    The center (a buffer, saved in checkpoints) is updated after each optimizer step
    (:meth:`update_center`, called by ``DINO.after_optimizer_step``) with the batch means of the
    steps' teacher outputs, averaged over all processes.
    """

    def __init__(self, out_channels: int, num_crops: int, student_temp: float = 0.1, center_momentum: float = 0.9,
                 teacher_temp: float = 0.04, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if num_crops < 2:
            raise ConfigError(f'DINOHead num_crops counts the 2 global crops and the local ones; got {num_crops}.')
        self.out_channels, self.num_crops = out_channels, num_crops
        self.student_temp, self.center_momentum, self.teacher_temp = student_temp, center_momentum, teacher_temp
        self.register_buffer('center', torch.zeros(1, out_channels))
        self._pending: list[torch.Tensor] = []

    def loss(self, student_output: torch.Tensor, teacher_output: torch.Tensor) -> torch.Tensor:
        """``student_output``: (num_crops * N, out) in crop order; ``teacher_output``: (2 * N, out)."""
        log_p_s = F.log_softmax(student_output / self.student_temp, dim=-1).chunk(self.num_crops)
        teacher_output = teacher_output.detach()
        p_t = F.softmax((teacher_output - self.center) / self.teacher_temp, dim=-1).chunk(2)
        total, terms = 0., 0
        for i, t in enumerate(p_t):
            for j, s in enumerate(log_p_s):
                if i != j:
                    total = total + (-t * s).sum(-1).mean()
                    terms += 1
        self._pending.append(all_reduce_mean(teacher_output.float().mean(0, keepdim=True)))
        return total / terms

    @torch.no_grad()
    def update_center(self) -> None:
        """Fold the batch centers of the steps since the last update into ``center`` (EMA)."""
        for batch_center in self._pending:
            self.center.mul_(self.center_momentum).add_(batch_center.to(self.center.dtype), alpha=1 - self.center_momentum)
        self._pending.clear()

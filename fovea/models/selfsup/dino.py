"""DINO (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021,
arXiv:2104.14294) with the names of MMPretrain's project (``DINO``, ``DINONeck``, ``DINOHead``,
``DINOTeacherTempWarmupHook``), made to train: MMPretrain's project never updates its teacher.

The student (backbone + ``DINONeck``) sees every crop, the teacher (a cosine-annealed momentum
average of the student: DINO's 0.996 -> 1, i.e. ``base_momentum=0.004`` -> 0 in MMPretrain's
convention) only the 2 global ones; ``DINOHead`` is the loss with the teacher's centering and
sharpening. Teacher and center follow each optimizer step (``after_optimizer_step``).
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.layers.drop import DropPath
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.utils.averaged_model import CosineEMA
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['DINO']


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """Self-distillation with no labels.

    Args:
        backbone / neck / head: the student's backbone, a ``DINONeck`` and a ``DINOHead``.
        base_momentum: weight of the student in each teacher update at the start, annealed to 0
            along a cosine over the run (0.004: DINO's teacher momentum 0.996 -> 1). MMPretrain's
            project default 0.99 is DINO's value in the other convention.

    Inputs: ``head.num_crops`` views per image, the 2 global crops first (``MultiView`` with
    ``num_views=[1, 1, N]`` or ``DINOMultiCrop``); views of the same size are run as one batch.
    The teacher has the student's architecture without stochastic depth or dropout (as DINO's).
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, pretrained: str | None = None,
                 base_momentum: float = 0.004, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.teacher = CosineEMA(nn.Sequential(self.backbone, self.neck), momentum=base_momentum)
        for m in self.teacher.modules():
            if isinstance(m, DropPath):
                m.drop_prob = 0.
            elif isinstance(m, nn.Dropout):
                m.p = 0.

    def init_weights(self) -> None:
        super().init_weights()
        self.teacher.restart()            # the first step copies the initialised student

    def _student(self, views: list[torch.Tensor]) -> torch.Tensor:
        """The student's outputs of all views in view order, one forward per run of same-sized views."""
        outs, start = [], 0
        while start < len(views):
            end = start + 1
            while end < len(views) and views[end].shape[-2:] == views[start].shape[-2:]:
                end += 1
            outs.append(self.neck(self.backbone(torch.cat(views[start:end])))[0])
            start = end
        return torch.cat(outs)

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        views = self.views(inputs)
        if len(views) != self.head.num_crops:
            raise ConfigError(f'DINO: the pipeline gives {len(views)} crops per image but head.num_crops is '
                              f'{self.head.num_crops}: set model.head.num_crops={len(views)} (2 global + local crops).')
        with torch.no_grad():
            if self.teacher.num_updates() == 0:   # the first step copies (no device sync per step)
                self.teacher.update_parameters(nn.Sequential(self.backbone, self.neck))
            teacher_out = self.teacher(torch.cat(views[:2]))[0]
        return dict(loss=self.head.loss(self._student(views), teacher_out))

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        self.teacher.max_iters = max_steps
        self.teacher.update_parameters(nn.Sequential(self.backbone, self.neck))
        self.head.update_center()

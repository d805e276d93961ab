"""SwAV (Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
NeurIPS 2020, arXiv:2006.09882) with MMPretrain's names, arguments and state-dict keys."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SwAV']


@MODELS.register_module()
class SwAV(BaseSelfSupervisor):
    """Multi-crop views (``MultiView(num_views=[2, 6], ...)``: crops of several sizes, each size's
    crops consecutive); the backbone runs once per run of same-sized crops, ``SwAVNeck`` projects
    all of them, ``SwAVHead``/``SwAVLoss`` predict each global crop's cluster codes from the others.

    ``SwAVHook`` creates the embedding queue at ``epoch_queue_starts`` and freezes the prototypes for
    the first iterations (``frozen_layers_cfg=dict(prototypes=N)``); the queue is filled after each
    optimizer step here.
    """

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        views = self.views(inputs)
        num_crops = getattr(getattr(self.head, 'loss_module', None), 'num_crops', None)
        if num_crops is not None and len(views) != sum(num_crops):
            raise ConfigError(f'SwAV: the pipeline gives {len(views)} views per image, but '
                              f'model.head.loss.num_crops={num_crops} expects {sum(num_crops)}; make the '
                              f'MultiView num_views and num_crops agree.')
        outputs, start = [], 0
        for end in range(1, len(views) + 1):
            if end == len(views) or views[end].shape[-2:] != views[start].shape[-2:]:
                outputs.append(self.backbone(torch.cat(views[start:end])))
                start = end
        return dict(loss=self.head.loss(self.neck(outputs)))

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        update = getattr(getattr(self.head, 'loss_module', None), 'update_queue', None)
        if update is not None:
            update()

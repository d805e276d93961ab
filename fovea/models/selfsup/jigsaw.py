"""Jigsaw puzzles (Noroozi & Favaro, "Unsupervised Learning of Visual Representations by Solving Jigsaw
Puzzles", ECCV 2016)."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor, pooled_features, pretext_cls_loss
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['Jigsaw']


@MODELS.register_module()
class Jigsaw(BaseSelfSupervisor):
    """Classify which permutation of a fixed set shuffled the nine tiles of an image.

    The pipeline's ``RandomJigsawWithLabels`` gives nine shuffled tiles (views) and the permutation's
    index ``jigsaw_label`` (packed with ``PackInputs(algorithm_keys=['jigsaw_label'])``). The
    backbone is the shared tile encoder: each tile's pooled feature, concatenated in tile order
    (``9 * C`` wide), goes through the neck (e.g. ``NonLinearNeck(in_channels=9 * C, ...)``) and a
    head with ``num_permutations`` classes.
    """

    num_views = 9

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        views = self.views(inputs)
        n = len(views[0])
        if not data_samples or any('jigsaw_label' not in s for s in data_samples):
            raise ConfigError("Jigsaw needs each image's permutation index: use RandomJigsawWithLabels in the "
                              "pipeline and pack it with dict(type='PackInputs', algorithm_keys=['jigsaw_label']).")
        target = torch.as_tensor([int(s.jigsaw_label) for s in data_samples], device=views[0].device)
        x = pooled_features(self.backbone(torch.cat(views))).unflatten(0, (9, n))
        x = x.transpose(0, 1).flatten(1)                      # (n, 9 * C): tile 0's feature first
        feats = self.neck((x,)) if self.with_neck else (x,)
        num_classes = getattr(self.head, 'num_classes', None)
        if num_classes is not None and int(target.max()) >= num_classes:
            raise ConfigError(f'Jigsaw: permutation index {int(target.max())} but the head has {num_classes} classes; '
                              f'set model.head.num_classes to RandomJigsawWithLabels num_permutations.')
        return pretext_cls_loss(self.head, feats, target)

"""RelativeLoc (Doersch et al., "Unsupervised Visual Representation Learning by Context Prediction",
ICCV 2015) with MMSelfSup 0.x's names (``RelativeLoc``, ``RelativeLocNeck``)."""
from __future__ import annotations

import torch

from fovea.models.selfsup.base import BaseSelfSupervisor, pretext_cls_loss
from fovea.registry import MODELS

__all__ = ['RelativeLoc']

CENTRE = 4                 # the centre's view index (RandomPatchWithLabels: row-major 3x3 grid)
_NEIGHBOURS = [i for i in range(9) if i != CENTRE]


@MODELS.register_module()
class RelativeLoc(BaseSelfSupervisor):
    """Classify where a neighbouring patch lies relative to the centre patch (8-way cross-entropy).

    The pipeline's ``RandomPatchWithLabels`` gives the nine patches of a 3x3 grid (view 4 the
    centre). Every patch goes through the backbone once; each of the eight neighbours' last feature
    map is concatenated along channels with the centre's (neighbour first, as MMSelfSup), and
    ``RelativeLocNeck`` then an 8-class head classify its position: all eight pairs of each image
    are used, as in MMSelfSup 0.x. Random greyscale in the pipeline (MMSelfSup: ``prob=0.66``) keeps
    chromatic aberration from giving the position away.
    """

    num_views = 9

    def loss(self, inputs: list[torch.Tensor], data_samples=None) -> dict[str, torch.Tensor]:
        views = self.views(inputs)
        n = len(views[0])
        feats = self.backbone(torch.cat(views))
        x = (feats[-1] if isinstance(feats, (list, tuple)) else feats).unflatten(0, (9, n))
        centre = x[CENTRE].expand(len(_NEIGHBOURS), *x.shape[1:])
        pairs = torch.cat((x[_NEIGHBOURS], centre), dim=2).flatten(0, 1)     # (8n, 2C, ...), neighbour-major
        target = torch.arange(len(_NEIGHBOURS), device=pairs.device).repeat_interleave(n)
        return pretext_cls_loss(self.head, self.neck((pairs,)), target)

"""Colorization (Zhang et al., "Colorful Image Colorization", ECCV 2016) as a pretext task."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from fovea.data.transforms.pretext import lab_to_rgb
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['Colorization']


@MODELS.register_module()
class Colorization(BaseSelfSupervisor):
    """Predict an image's ab colour channels from its Lab lightness L.

    The pipeline's ``LabColorization`` gives the L channel as a 1-channel image and the ab target as
    ``gt_ab`` (``PackInputs(algorithm_keys=['gt_ab'])``); the backbone takes one input channel
    (``in_channels=1``) and ``ColorizationHead`` predicts ab on its last feature map (quantised-ab
    classification with class rebalancing, or regression). Evaluation pipelines (``knn_cfg``) must
    feed L images too (``LabColorization`` before ``PackInputs``).
    """

    def _l_batch(self, inputs) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)) or inputs.shape[1] != 1:
            shape = 'several views' if isinstance(inputs, (list, tuple)) else f'{inputs.shape[1]} channels'
            raise ConfigError(f'Colorization takes one L-channel image per sample, the batch has {shape}: put '
                              f"dict(type='LabColorization') last before PackInputs (and no MultiView).")
        return inputs

    def loss(self, inputs: torch.Tensor, data_samples=None) -> dict[str, torch.Tensor]:
        inputs = self._l_batch(inputs)
        if not data_samples or any('gt_ab' not in s for s in data_samples):
            raise ConfigError("Colorization needs each image's ab target: use LabColorization in the pipeline and "
                              "dict(type='PackInputs', algorithm_keys=['gt_ab']).")
        gt_ab = torch.stack([s.gt_ab for s in data_samples]).to(inputs.device)
        return self.head.loss(self.backbone(inputs), gt_ab)

    @torch.no_grad()
    def colorize(self, inputs: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
        """sRGB images in [0, 1], (N, 3, H, W): ``lightness`` (N, 1, H, W, L in [0, 100]) with the ab
        predicted from the preprocessed ``inputs``, upsampled bilinearly to full resolution."""
        ab = self.head.predict_ab(self.backbone(self._l_batch(inputs)))
        ab = F.interpolate(ab, size=lightness.shape[-2:], mode='bilinear', align_corners=False)
        return lab_to_rgb(torch.cat((lightness.to(ab), ab), 1))

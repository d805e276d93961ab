"""LeViT's classifier (Graham et al. 2021): batch norm + linear, with a second (distillation) classifier whose
logits are averaged with the first at inference. MMPretrain's class and names (``head``, ``head_dist``)."""
from __future__ import annotations

import torch

from fovea.models.backbones.levit import BatchNormLinear, FoldsBatchNorms
from fovea.models.heads.cls_head import ClsHead
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['LeViTClsHead']


@MODELS.register_module()
class LeViTClsHead(FoldsBatchNorms, ClsHead):
    """Args:
        num_classes / in_channels: classes and feature width.
        distillation: keep the distillation classifier (``head_dist``) and average the two at inference.
            As in MMPretrain, training such a head is not supported (the teacher is not part of the model):
            train with ``distillation=False``.
        deploy: fold each batch norm into its linear layer (``switch_to_deploy``, ``fovea reparameterize``).
        **kwargs: :class:`ClsHead`'s (loss, topk, cal_acc, init_cfg).
    """

    def __init__(self, num_classes: int = 1000, distillation: bool = True, in_channels: int | None = None,
                 deploy: bool = False, **kwargs):
        super().__init__(**kwargs)
        if in_channels is None:
            raise ConfigError('LeViTClsHead needs in_channels (the last stage width, e.g. 384 for LeViT-128S)')
        self.num_classes, self.distillation = num_classes, distillation
        self.head = BatchNormLinear(in_channels, num_classes)
        if distillation:
            self.head_dist = BatchNormLinear(in_channels, num_classes)
        self._init_deploy(deploy)

    def forward(self, feats: tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
        x = self.pre_logits(feats)
        if not self.distillation:
            return self.head(x)
        if self.training:
            raise ConfigError('LeViTClsHead(distillation=True) cannot be trained (as in MMPretrain: no teacher); '
                              'set model.head.distillation=False to train, or call model.eval() to predict')
        return (self.head(x) + self.head_dist(x)) / 2

"""Classification heads for Vision Transformers (ViT's optional pre-logits layer; DeiT's two heads)."""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from fovea.models.data_preprocessor import samples_to_targets
from fovea.models.heads.cls_head import ClsHead
from fovea.models.layers.conv import build_activation_layer
from fovea.registry import MODELS
from fovea.structures import DataSample

__all__ = ['VisionTransformerClsHead', 'DeiTClsHead']


@MODELS.register_module()
class VisionTransformerClsHead(ClsHead):
    """Linear classifier on the class token, with the optional pre-logits layer of ViT pre-training
    (Dosovitskiy et al., ICLR 2021): Linear(in, hidden_dim) -> Tanh -> Linear(hidden_dim, classes).

    Args:
        num_classes: number of classes.
        in_channels: class-token width.
        hidden_dim: width of the pre-logits layer; None leaves it out.
        act_cfg: activation after the pre-logits layer.
        init_cfg: zero-initialised classifier by default, as MMPretrain.
    """

    def __init__(self, num_classes: int, in_channels: int, hidden_dim: int | None = None,
                 act_cfg: dict = dict(type='Tanh'), init_cfg: dict | None = dict(type='Constant', layer='Linear',
                                                                                val=0), **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be a positive integer')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.hidden_dim = hidden_dim
        self.act_cfg = act_cfg
        self._init_layers()

    def _init_layers(self) -> None:
        if self.hidden_dim is None:
            layers = [('head', nn.Linear(self.in_channels, self.num_classes))]
        else:
            layers = [('pre_logits', nn.Linear(self.in_channels, self.hidden_dim)),
                      ('act', build_activation_layer(self.act_cfg)),
                      ('head', nn.Linear(self.hidden_dim, self.num_classes))]
        self.layers = nn.Sequential(OrderedDict(layers))

    def init_weights(self) -> None:
        super().init_weights()
        if self.hidden_dim is not None:  # LeCun normal on the pre-logits layer, as the ViT reference
            fan_in = self.layers.pre_logits.in_features
            nn.init.trunc_normal_(self.layers.pre_logits.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.layers.pre_logits.bias)

    @staticmethod
    def _last(feats):
        feat = feats[-1] if isinstance(feats, tuple) else feats
        return feat[-1] if isinstance(feat, list) else feat  # MMPretrain 0.x returned [patch, cls]

    def pre_logits(self, feats) -> torch.Tensor:
        cls_token = self._last(feats)
        if self.hidden_dim is None:
            return cls_token
        return self.layers.act(self.layers.pre_logits(cls_token))

    def forward(self, feats) -> torch.Tensor:
        return self.layers.head(self.pre_logits(feats))


@MODELS.register_module()
class DeiTClsHead(VisionTransformerClsHead):
    """DeiT's head for a distilled ViT: one classifier on the class token (``layers.head``) and one on
    the distillation token (``layers.head_dist``). At inference the two are averaged.

    Training: with no teacher (a plain classifier), the loss is taken on the averaged score, as
    MMPretrain does. Inside :class:`~fovea.models.classifiers.DistillImageClassifier`, the class
    head learns the labels and the distillation head the teacher (:meth:`forward_distill`).
    """

    def _init_layers(self) -> None:
        super()._init_layers()
        self.layers.add_module('head_dist', nn.Linear(self.hidden_dim or self.in_channels, self.num_classes))

    def pre_logits(self, feats) -> tuple[torch.Tensor, torch.Tensor]:
        feat = feats[-1] if isinstance(feats, tuple) and isinstance(feats[-1], (tuple, list)) else feats
        if len(feat) == 3:  # MMPretrain 0.x: (patch tokens, cls, dist)
            _, cls_token, dist_token = feat
        else:
            cls_token, dist_token = feat
        if self.hidden_dim is None:
            return cls_token, dist_token
        act, pre = self.layers.act, self.layers.pre_logits
        return act(pre(cls_token)), act(pre(dist_token))

    def forward_distill(self, feats) -> tuple[torch.Tensor, torch.Tensor]:
        """(class-token scores, distillation-token scores), for distillation training."""
        cls_token, dist_token = self.pre_logits(feats)
        return self.layers.head(cls_token), self.layers.head_dist(dist_token)

    def forward(self, feats) -> torch.Tensor:
        cls_score, dist_score = self.forward_distill(feats)
        return (cls_score + dist_score) / 2

    def loss(self, feats, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        cls_score = self(feats)
        target = samples_to_targets(data_samples, device=cls_score.device)
        return {'loss': self.loss_module(cls_score, target, avg_factor=cls_score.size(0))}

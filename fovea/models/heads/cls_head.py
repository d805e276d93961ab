"""Classification heads: ClsHead (logits given) and LinearClsHead (one fully connected layer)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.data_preprocessor import samples_to_targets
from fovea.registry import MODELS
from fovea.structures import DataSample

__all__ = ['ClsHead', 'LinearClsHead']


@MODELS.register_module()
class ClsHead(BaseModule):
    """The head for features that already are class scores: computes the loss and the predictions.

    Args:
        loss: loss config (default softmax cross-entropy).
        topk: top-k accuracies logged with the training loss when ``cal_acc`` is set.
        cal_acc: log training accuracy (only meaningful without batch mixing).
    """

    def __init__(self, loss: dict | None = None, topk: int | Sequence[int] = (1,), cal_acc: bool = False,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.loss_module = MODELS.build(loss or dict(type='CrossEntropyLoss', loss_weight=1.0), key='loss')
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.cal_acc = cal_acc

    def pre_logits(self, feats: tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
        """The last stage's features (what a linear layer would read)."""
        return feats[-1] if isinstance(feats, (tuple, list)) else feats

    def forward(self, feats: tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
        return self.pre_logits(feats)

    def loss(self, feats, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        cls_score = self(feats)
        target = samples_to_targets(data_samples, device=cls_score.device)
        losses = {'loss': self.loss_module(cls_score, target, avg_factor=cls_score.size(0))}
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('cal_acc needs hard labels; it cannot be used with batch augments')
            top = cls_score.topk(max(self.topk), dim=1).indices
            for k in self.topk:
                hit = (top[:, :k] == target[:, None]).any(1).float().mean() * 100
                losses[f'accuracy_top-{k}'] = hit
        return losses

    def predict(self, feats, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        cls_score = self(feats)
        return self._get_predictions(cls_score, data_samples)

    @staticmethod
    def _get_predictions(cls_score: torch.Tensor, data_samples: list[DataSample] | None) -> list[DataSample]:
        scores = F.softmax(cls_score.float(), dim=1).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for s, score, label in zip(data_samples, scores, labels):
            s.set_pred_score(score).set_pred_label(label)
        return data_samples


@MODELS.register_module()
class LinearClsHead(ClsHead):
    """A fully connected layer on the last stage's (pooled) features.

    Args:
        num_classes: number of classes.
        in_channels: feature size.
    """

    def __init__(self, num_classes: int, in_channels: int, init_cfg: dict | None = None, **kwargs):
        if init_cfg is None:
            init_cfg = dict(type='Normal', layer='Linear', std=0.01)
        super().__init__(init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be a positive integer')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feats) -> torch.Tensor:
        return self.fc(self.pre_logits(feats))

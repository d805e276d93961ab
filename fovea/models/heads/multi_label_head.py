"""Multi-label classification heads: independent sigmoid scores per class."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.heads.cls_head import ClsHead
from fovea.registry import MODELS
from fovea.structures import DataSample

__all__ = ['MultiLabelClsHead', 'MultiLabelLinearClsHead', 'multi_label_targets']


def multi_label_targets(data_samples: list[DataSample], num_classes: int, device=None) -> torch.Tensor:
    """(B, C) float targets: the samples' ``gt_score`` when present, else one-hot rows of their ``gt_label`` indices."""
    if 'gt_score' in data_samples[0]:
        return torch.stack([s.gt_score.float() for s in data_samples]).to(device)
    target = torch.zeros(len(data_samples), num_classes, device=device)
    for row, s in zip(target, data_samples):
        labels = s.gt_label.to(device)
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f'gt_label {labels.tolist()} has indices outside 0..{num_classes - 1}')
        row[labels] = 1.
    return target


@MODELS.register_module()
class MultiLabelClsHead(ClsHead):
    """Head for features that already are per-class logits; sigmoid scores, several labels per image.

    Args:
        loss: default binary cross-entropy (``CrossEntropyLoss(use_sigmoid=True)``).
        thr: a class is predicted when its score >= ``thr``.
        topk: predict the ``topk`` highest-scoring classes instead (used when ``thr`` is None).
            With neither given, ``thr=0.5``.
    """

    def __init__(self, loss: dict | None = None, thr: float | None = None, topk: int | None = None,
                 init_cfg: dict | None = None):
        super().__init__(loss=loss or dict(type='CrossEntropyLoss', use_sigmoid=True), init_cfg=init_cfg)
        if thr is None and topk is None:
            thr = 0.5
        self.thr = thr
        self.topk = topk

    def loss(self, feats, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        cls_score = self(feats)
        target = multi_label_targets(data_samples, cls_score.size(-1), cls_score.device)
        return {'loss': self.loss_module(cls_score, target, avg_factor=cls_score.size(0))}

    def predict(self, feats, data_samples: list[DataSample] | None = None) -> list[DataSample]:
        scores = torch.sigmoid(self(feats).float()).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for s, score in zip(data_samples, scores):
            label = torch.where(score >= self.thr)[0] if self.thr is not None else score.topk(self.topk).indices
            s.set_pred_score(score).set_pred_label(label)
        return data_samples


@MODELS.register_module()
class MultiLabelLinearClsHead(MultiLabelClsHead):
    """A fully connected layer followed by per-class sigmoids.

    Args:
        num_classes / in_channels: output classes and feature size.
        loss / thr / topk: as :class:`MultiLabelClsHead`.
    """

    def __init__(self, num_classes: int, in_channels: int, loss: dict | None = None, thr: float | None = None,
                 topk: int | None = None, init_cfg: dict | None = dict(type='Normal', layer='Linear', std=0.01)):
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes={num_classes} must be a positive integer')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feats) -> torch.Tensor:
        return self.fc(self.pre_logits(feats))

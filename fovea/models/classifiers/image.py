"""ImageClassifier: backbone -> neck -> head."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from fovea.models.base import BaseModel
from fovea.registry import MODELS, key_scope
from fovea.structures import DataSample

__all__ = ['ImageClassifier']


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """An image classifier composed of a backbone, an optional neck and an optional head.

    Args:
        backbone: backbone config (returns a tuple of feature maps).
        neck: neck config, e.g. ``dict(type='GlobalAveragePooling')``, or a list of them (applied in order).
        head: head config, e.g. ``dict(type='LinearClsHead', num_classes=1000, in_channels=2048)``.
        pretrained: path/URL of a checkpoint for the whole model (MMPretrain's argument).
        train_cfg: ``dict(augments=[...])`` batch augments, as in MMPretrain; moved into the
            data preprocessor.
        data_preprocessor: defaults to ``ClsDataPreprocessor``.
    """

    def __init__(self, backbone: dict, neck: dict | None = None, head: dict | None = None,
                 pretrained: str | None = None, train_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None):
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        if train_cfg is not None and 'augments' in train_cfg:
            data_preprocessor['batch_augments'] = train_cfg
            if head is not None and 'num_classes' in head:
                data_preprocessor.setdefault('num_classes', head['num_classes'])
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone, key='backbone')
        if isinstance(neck, (list, tuple)):   # MMEngine builds a list of necks as a Sequential (HRNet's configs)
            with key_scope('neck'):
                self.neck = nn.Sequential(*(MODELS.build(n, key=str(i)) for i, n in enumerate(neck)))
        else:
            self.neck = MODELS.build(neck, key='neck')
        self.head = MODELS.build(head, key='head')

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_head(self) -> bool:
        return self.head is not None

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck') -> Any:
        """Features of a preprocessed batch after the given stage.

        ``'backbone'``: the backbone's tuple of feature maps (see its ``out_indices``);
        ``'neck'`` (default): after the neck (the backbone's output when there is none);
        ``'pre_logits'``: the head's input to its final linear layer (``head.pre_logits``).
        """
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f"extract_feat: stage must be 'backbone', 'neck' or 'pre_logits', got {stage!r}")
        x = self.backbone(inputs)
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        if not hasattr(self.head, 'pre_logits'):
            raise ValueError(f"extract_feat(stage='pre_logits') needs a head with pre_logits(); this "
                             f"{type(self).__name__} has {'no head' if self.head is None else type(self.head).__name__}.")
        return self.head.pre_logits(x)

    def extract_feats(self, multi_inputs: Sequence[torch.Tensor], **kwargs: Any) -> list:
        """:meth:`extract_feat` of each batch in ``multi_inputs`` (e.g. test-time augmented views);
        ``kwargs`` (``stage=``) go to :meth:`extract_feat`."""
        if isinstance(multi_inputs, torch.Tensor) or not isinstance(multi_inputs, Sequence):
            raise TypeError(f'extract_feats takes a sequence of input batches, got {type(multi_inputs).__name__}; '
                            f'use extract_feat for a single batch.')
        return [self.extract_feat(inputs, **kwargs) for inputs in multi_inputs]

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        """The head's losses on the neck features of a preprocessed batch."""
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None,
                **kwargs: Any) -> list[DataSample]:
        """Predictions (``pred_score``, ``pred_label``) of a preprocessed batch, one DataSample per
        image (the given ``data_samples`` filled in, or new ones); ``kwargs`` go to ``head.predict``."""
        return self.head.predict(self.extract_feat(inputs), data_samples, **kwargs)

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None) -> Any:
        feats = self.extract_feat(inputs)
        return self.head(feats) if self.with_head else feats

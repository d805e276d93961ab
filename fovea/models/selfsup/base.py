"""BaseSelfSupervisor: the self-supervised model contract (MMPretrain's names and arguments).

A self-supervised algorithm is a model whose :meth:`loss` turns a batch of (usually multi-view)
images into losses; it never overrides ``train_step``, so its gradients are all-reduced by
DistributedDataParallel like a classifier's. State that must follow each weight update (momentum
encoders, queues) goes in ``after_optimizer_step`` (see :class:`fovea.models.base.BaseModel`).
The backbone is what downstream use keeps: ``predict`` returns pooled backbone features, which the
kNN evaluation (``fovea knn``) and feature extraction read, and checkpoints keep it under the
``backbone.`` prefix that ``init_cfg=dict(type='Pretrained', prefix='backbone.')`` loads.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from fovea.models.base import BaseModel
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

__all__ = ['BaseSelfSupervisor', 'pretext_cls_loss']


class BaseSelfSupervisor(BaseModel):
    """backbone -> (neck) -> (head), with a ``SelfSupDataPreprocessor`` by default.

    Args:
        backbone / neck / head / target_generator: configs (or modules).
        pretrained: checkpoint of the whole model (MMPretrain's argument; becomes ``init_cfg``).
        data_preprocessor: defaults to ``dict(type='SelfSupDataPreprocessor')``.
    """

    #: how many views ``loss`` needs (None: any number); checked with a clear error
    num_views: int | None = None

    def __init__(self, backbone: dict | nn.Module, neck: dict | nn.Module | None = None,
                 head: dict | nn.Module | None = None, target_generator: dict | nn.Module | None = None,
                 pretrained: str | None = None, data_preprocessor: dict | nn.Module | None = None,
                 init_cfg: dict | list | None = None):
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        if data_preprocessor is None or isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type', 'SelfSupDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = _build(backbone, 'backbone')
        self.neck = _build(neck, 'neck')
        self.head = _build(head, 'head')
        self.target_generator = _build(target_generator, 'target_generator')

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_head(self) -> bool:
        return self.head is not None

    @property
    def with_target_generator(self) -> bool:
        return self.target_generator is not None

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The backbone's feature maps (what downstream tasks use)."""
        return self.backbone(inputs)

    def _forward(self, inputs: Any, data_samples: list | None = None) -> Any:
        return self.extract_feat(inputs)

    def predict(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> list[DataSample]:
        """Each sample's pooled last backbone feature as ``feats`` (for kNN and retrieval)."""
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]          # a multi-view pipeline at test time: the first view
        feats = pooled_features(self.extract_feat(inputs))
        samples = list(data_samples) if data_samples is not None else [DataSample() for _ in range(len(feats))]
        for s, f in zip(samples, feats):
            s.set_field(f, 'feats')
        return samples

    def views(self, inputs: Any) -> list[torch.Tensor]:
        """``inputs`` as the list of view batches ``loss`` expects, with a clear error otherwise: one view
        where several are needed, another number of views, or (in training) fewer images per process
        than :meth:`min_images` (the last batch of an epoch too: ``drop_last=True`` avoids a short one)."""
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ConfigError(
                f'{name} needs several views of each image, but the batch has one: put '
                f"dict(type='MultiView', num_views={self.num_views or 2}, transforms=[view_pipeline]) "
                f'before PackInputs in train_dataloader.dataset.pipeline.')
        if self.num_views is not None and len(inputs) != self.num_views:
            raise ConfigError(f'{name} takes {self.num_views} views per image, the pipeline gives {len(inputs)}: '
                              f'set num_views={self.num_views} in the MultiView transform of '
                              f'train_dataloader.dataset.pipeline.')
        need, why = self.min_images()
        if self.training and inputs and len(inputs[0]) < need:
            raise ConfigError(
                f'{name} needs at least {need} images per batch in each process ({why}), this batch has '
                f'{len(inputs[0])}: raise train_dataloader.batch_size, and set train_dataloader.drop_last=True '
                f'so that the last batch of an epoch is never smaller.')
        return list(inputs)

    #: (fewest images per process ``loss`` works with, why); None: 2 where the neck or head has
    #: BatchNorm layers (they normalise over the batch), else 1
    min_batch_size: tuple[int, str] | None = None

    def min_images(self) -> tuple[int, str]:
        found = self.__dict__.get('_min_images')
        if found is None:
            found = self.min_batch_size
            bns = [f'{part}.{n}'.rstrip('.') for part in ('neck', 'head') if getattr(self, part, None) is not None
                   for n, m in getattr(self, part).named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            if found is None and bns:
                more = ' ...' if len(bns) > 3 else ''
                found = (2, f'the BatchNorm layers {", ".join(bns[:3])}{more} normalise over the batch')
            self.__dict__['_min_images'] = found = found or (1, '')
        return found


def pooled_features(feats: Any) -> torch.Tensor:
    """(N, D) from a backbone's output: the last map, averaged over space (or a ViT's (N, D) token)."""
    x = feats[-1] if isinstance(feats, (list, tuple)) else feats
    if isinstance(x, (list, tuple)):           # ViT out_type='raw' style (tokens, cls)
        x = x[-1]
    if x.ndim == 4:
        x = x.mean((2, 3))
    elif x.ndim == 3:
        x = x.mean(1)
    return x.flatten(1)


def pretext_cls_loss(head: nn.Module, feats: Any, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """A pretext task's classification loss: the head's logits against ``target`` through the head's
    ``loss_module``, with the task's top-1 accuracy (%) logged alongside as ``accuracy_top-1``."""
    logits = head(feats)
    loss = head.loss_module(logits, target, avg_factor=logits.size(0))
    acc = (logits.detach().argmax(1) == target).float().mean() * 100
    return {'loss': loss, 'accuracy_top-1': acc}


def _build(cfg: dict | nn.Module | None, key: str) -> nn.Module | None:
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg, key=key)

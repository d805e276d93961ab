"""Official MoCo v3 checkpoints (facebookresearch/moco-v3, ``r-50-*.pth.tar`` and ``vit-*.pth.tar``) ->
fovea, detected from their keys ``module.base_encoder.*``, ``module.momentum_encoder.*`` and
``module.predictor.*`` (``module.`` is already stripped by the reader).

The encoders are a torchvision ResNet whose ``fc`` is the projection MLP, or a timm ViT whose
``head`` is; the MLPs are ``Sequential(Linear, BN, ReLU, ..., Linear[, BN])``. Into a ``MoCoV3`` model
everything is mapped (backbone, ``neck``, ``head.predictor`` and the momentum encoder, marked as
already averaged so the first step does not overwrite it with the online weights); into a
classifier or a bare backbone only the online encoder's backbone, for linear probing and fine-tuning.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from fovea.convert.resnet import convert_resnet
from fovea.convert.vision_transformer import convert_timm_vit
from fovea.models.weights import register_converter

__all__ = ['convert_official_mocov3']

StateDict = dict


def _sub(sd: StateDict, prefix: str) -> StateDict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def _mlp(sd: StateDict) -> StateDict:
    """MoCo v3's ``Sequential`` MLP (Linear, BN, ReLU, ..., Linear[, BN]) -> NonLinearNeck's fc{i}/bn{i}."""
    out, n_fc = {}, -1
    for idx in sorted({int(k.split('.')[0]) for k in sd}):
        tensors = _sub(sd, f'{idx}.')
        if 'running_mean' in tensors:
            names = {name: f'bn{n_fc}.{name}' for name in tensors}
        else:
            n_fc += 1
            names = {name: f'fc{n_fc}.{name}' for name in tensors}
        for name, new in names.items():
            out[new] = tensors[name]
    return out


def _backbone(encoder: StateDict, target: nn.Module) -> StateDict | None:
    if 'blocks.0.attn.qkv.weight' in encoder:
        return convert_timm_vit({k: v for k, v in encoder.items() if not k.startswith('head.')}, target)
    if 'layer1.0.conv1.weight' in encoder:
        return convert_resnet({k: v for k, v in encoder.items() if not k.startswith('fc.')}, target)
    return None


def _projector(encoder: StateDict) -> StateDict:
    return _mlp(_sub(encoder, 'head.') if 'blocks.0.attn.qkv.weight' in encoder else _sub(encoder, 'fc.'))


def _add(out: StateDict, part: StateDict | None, prefix: str) -> None:
    for k, v in (part or {}).items():
        out[prefix + k] = v


@register_converter('mocov3')
def convert_official_mocov3(sd: StateDict, model: nn.Module) -> StateDict | None:
    """Official MoCo v3 state dict -> a fovea ``MoCoV3`` (all of it) or a classifier / backbone (the
    online backbone)."""
    sd = {re.sub(r'^module\.', '', k): v for k, v in sd.items()}
    base = _sub(sd, 'base_encoder.')
    if not base:
        return None
    backbone = getattr(model, 'backbone', None)
    out: StateDict = {}
    if backbone is None:                             # a bare backbone
        return _backbone(base, model)
    _add(out, _backbone(base, backbone), 'backbone.')
    momentum = getattr(model, 'momentum_encoder', None)
    if momentum is None or getattr(model, 'neck', None) is None:
        return out                                   # a classifier: the backbone only
    _add(out, _projector(base), 'neck.')
    _add(out, _mlp(_sub(sd, 'predictor.')), 'head.predictor.')
    key = _sub(sd, 'momentum_encoder.')
    if key:
        _add(out, _backbone(key, momentum.module[0]), 'momentum_encoder.module.0.')
        _add(out, _projector(key), 'momentum_encoder.module.1.')
        out['momentum_encoder.steps'] = torch.tensor(1, dtype=torch.long)   # averaged already: keep it
    return out

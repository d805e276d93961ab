"""Converters for AlexNet, VGG, GoogLeNet, Inception v3 and DenseNet from torchvision and timm.

fovea's AlexNet, GoogLeNet and Inception v3 use torchvision's module names (timm's Inception v3
too), so their conversion only places the keys under ``backbone.`` and drops auxiliary classifiers
that the target does not build. VGG convs are paired in order (torchvision interleaves conv, BN and
ReLU in one ``features`` list; fovea has one ConvModule per conv); timm's VGG classifier is two
convolutions (``pre_logits.fc1/fc2``) that become the linear layers. DenseNet renames
``features.denseblockN.denselayerM`` to ``stages.N-1.block.M-1`` and so on.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate, natural_key
from fovea.models.weights import register_converter
from fovea.models.backbones.alexnet import AlexNet
from fovea.models.backbones.densenet import DenseNet
from fovea.models.backbones.googlenet import GoogLeNet
from fovea.models.backbones.inception_v3 import InceptionV3
from fovea.models.backbones.vgg import VGG
from fovea.models.layers.conv import ConvModule

__all__ = ['convert_torchvision_alexnet_googlenet', 'convert_inception_v3', 'convert_vgg', 'convert_densenet']


@register_converter('torchvision')
def convert_torchvision_alexnet_googlenet(sd: dict, model: nn.Module) -> dict | None:
    """torchvision ``alexnet`` and ``googlenet`` (aux classifiers dropped)."""
    if 'features.0.weight' in sd and 'classifier.6.weight' in sd and 'features.10.weight' in sd:
        kind = AlexNet
    elif 'inception3a.branch1.conv.weight' in sd:
        kind = GoogLeNet
    else:
        return None
    found = locate(model, kind)
    if found is None:
        return None
    backbone, prefix, head = found
    out = {}
    for k, v in sd.items():
        if k.startswith(('aux1.', 'aux2.')):
            continue
        if backbone.num_classes <= 0 and k.startswith(('classifier.', 'fc.')):
            # a headless backbone: GoogLeNet's single fc can go to a linear head, AlexNet's MLP cannot
            if kind is GoogLeNet and head is not None:
                out[f'{head}fc.{k[3:]}'] = v
            continue
        out[prefix + k] = v
    return check_shapes(out, model)


@register_converter('torchvision')
@register_converter('timm')
def convert_inception_v3(sd: dict, model: nn.Module) -> dict | None:
    """torchvision / timm ``inception_v3``: identical names; ``AuxLogits`` kept only if the model has it."""
    if 'Mixed_5b.branch1x1.conv.weight' not in sd:
        return None
    found = locate(model, InceptionV3)
    if found is None:
        return None
    backbone, prefix, _ = found
    keep_aux = backbone.AuxLogits is not None
    out = {prefix + k: v for k, v in sd.items() if keep_aux or not k.startswith('AuxLogits.')}
    return check_shapes(out, model)


@register_converter('torchvision')
@register_converter('timm')
def convert_vgg(sd: dict, model: nn.Module) -> dict | None:
    """torchvision ``vgg11..19(_bn)`` and timm ``vgg*``: convs paired in order, BN after each in -BN models."""
    if 'features.0.weight' not in sd or not ('classifier.0.weight' in sd or 'pre_logits.fc1.weight' in sd):
        return None
    found = locate(model, VGG)
    if found is None:
        return None
    backbone, prefix, _ = found
    convs = sorted({k.rsplit('.', 1)[0] for k, v in sd.items() if k.startswith('features.') and v.ndim == 4},
                   key=natural_key)
    dst = [f'{prefix}features.{i}' for i, m in enumerate(backbone.features) if isinstance(m, ConvModule)]
    if len(convs) != len(dst):
        return None
    out = {}
    for src, d in zip(convs, dst):
        out[f'{d}.conv.weight'] = sd[f'{src}.weight']
        out[f'{d}.conv.bias'] = sd[f'{src}.bias']
        idx = int(src.split('.')[1])
        bn = f'features.{idx + 1}'
        if f'{bn}.running_mean' in sd:
            for t in ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'):
                if f'{bn}.{t}' in sd:
                    out[f'{d}.bn.{t}'] = sd[f'{bn}.{t}']
    if backbone.num_classes > 0:
        if 'classifier.0.weight' in sd:
            sources = ('classifier.0', 'classifier.3', 'classifier.6')
        else:  # timm: two convolutions and a linear head
            sources = ('pre_logits.fc1', 'pre_logits.fc2', 'head.fc')
        pairs = zip(sources, ('classifier.0', 'classifier.3', 'classifier.6'))
        for src, d in pairs:
            if f'{src}.weight' in sd:
                out[f'{prefix}{d}.weight'] = sd[f'{src}.weight'].flatten(1)
                out[f'{prefix}{d}.bias'] = sd[f'{src}.bias']
    return check_shapes(out, model)


@register_converter('torchvision')
@register_converter('timm')
def convert_densenet(sd: dict, model: nn.Module) -> dict | None:
    """torchvision / timm ``densenet121/161/169/201``."""
    if 'features.conv0.weight' not in sd or 'features.denseblock1.denselayer1.conv1.weight' not in sd:
        return None
    found = locate(model, DenseNet)
    if found is None:
        return None
    backbone, prefix, head = found
    last = backbone.num_stages
    out = {}
    for k, v in sd.items():
        if m := re.fullmatch(r'features\.conv0\.(\w+)', k):
            out[f'{prefix}stem.0.{m[1]}'] = v
        elif m := re.fullmatch(r'features\.norm0\.(\w+)', k):
            out[f'{prefix}stem.1.{m[1]}'] = v
        elif m := re.fullmatch(r'features\.denseblock(\d+)\.denselayer(\d+)\.(norm1|conv1|norm2|conv2)\.(\w+)', k):
            out[f'{prefix}stages.{int(m[1]) - 1}.block.{int(m[2]) - 1}.{m[3]}.{m[4]}'] = v
        elif m := re.fullmatch(r'features\.transition(\d+)\.(norm|conv)\.(\w+)', k):
            out[f'{prefix}transitions.{int(m[1]) - 1}.{m[2]}.{m[3]}'] = v
        elif m := re.fullmatch(rf'features\.norm{last + 1}\.(\w+)', k):
            out[f'{prefix}transitions.{last - 1}.0.{m[1]}'] = v
        elif m := re.fullmatch(r'classifier\.(\w+)', k):
            if head is not None:
                out[f'{head}fc.{m[1]}'] = v
        else:
            return None
    return check_shapes(out, model)

"""Converters for the ResNet family: ResNet, ResNetV1c/V1d, ResNet_CIFAR, ResNeXt, SE-ResNet(X).

* torchvision ``resnet18..152``, ``resnext50_32x4d``/``resnext101_32x8d``/``resnext101_64x4d`` and
  timm ``resnet*``, ``resnet*d`` (deep stem + average-pool shortcuts = ResNetV1d), ``resnet*c``,
  ``resnext*``, ``seresnet*``, ``seresnext*``: fovea keeps their block names (``layer1.0.conv1``,
  ``bn1``, ``downsample.0``); only the deep stem (``conv1.0/1/3/4/6`` + ``bn1`` -> ``stem.{0,1,2}``),
  the SE gates (``se.fc1/fc2`` -> ``se_layer.conv1/conv2.conv``) and the classifier (``fc`` ->
  ``head.fc``) are renamed.
* MMPretrain 1.x checkpoints use fovea's names already; the 'mmpretrain' converter only strips the
  ``backbone.`` prefix when loading into a bare backbone and drops preprocessor buffers.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.weights import register_converter
from fovea.models.backbones.resnet import ResNet

__all__ = ['convert_resnet', 'convert_torchvision_resnet', 'convert_mmpretrain_cnn']

_DEEP_STEM = {'0': 'stem.0.conv', '1': 'stem.0.bn', '3': 'stem.1.conv', '4': 'stem.1.bn', '6': 'stem.2.conv'}


@register_converter('timm')
def convert_resnet(sd: dict, model: nn.Module) -> dict | None:
    """torchvision / timm ResNet-family state dict -> fovea ResNet (any subclass)."""
    if 'layer1.0.conv1.weight' not in sd:
        return None
    found = locate(model, ResNet)
    if found is None:
        return None
    backbone, prefix, head = found
    deep = 'conv1.0.weight' in sd
    if deep != backbone.deep_stem:
        return None
    out = {}
    for k, v in sd.items():
        if m := re.fullmatch(r'conv1\.(\d)\.(\w+)', k):
            if m[1] not in _DEEP_STEM:
                return None
            out[f'{prefix}{_DEEP_STEM[m[1]]}.{m[2]}'] = v
        elif deep and (m := re.fullmatch(r'bn1\.(\w+)', k)):
            out[f'{prefix}stem.2.bn.{m[1]}'] = v
        elif m := re.fullmatch(r'(layer\d+\.\d+)\.se\.fc([12])\.(\w+)', k):
            out[f'{prefix}{m[1]}.se_layer.conv{m[2]}.conv.{m[3]}'] = v
        elif m := re.fullmatch(r'(layer\d+\.\d+)\.downsample\.(\d)\.(\w+)', k):
            # timm keeps an Identity slot before the conv of average-pool shortcuts even at stride 1
            src_conv = 1 if any(x.startswith(f'{m[1]}.downsample.2.') for x in sd) else 0
            dst = backbone.get_submodule(m[1]).downsample
            if dst is None:
                return None
            dst_conv = len(dst) - 2
            out[f'{prefix}{m[1]}.downsample.{dst_conv + int(m[2]) - src_conv}.{m[3]}'] = v
        elif m := re.fullmatch(r'fc\.(\w+)', k):
            if head is not None:
                out[f'{head}fc.{m[1]}'] = v
        else:
            out[prefix + k] = v
    return check_shapes(out, model)


@register_converter('torchvision')
def convert_torchvision_resnet(sd: dict, model: nn.Module) -> dict | None:
    """torchvision's ResNet / ResNeXt / Wide ResNet (timm's names, so :func:`convert_resnet` maps them) into
    the fovea classes torchvision has; a Res2Net, ResNeSt, SE-ResNet or RegNet checkpoint is timm's."""
    from fovea.models.backbones.resnext import ResNeXt
    found = locate(model, ResNet)
    if found is None or type(found[0]) not in (ResNet, ResNeXt):
        return None
    return convert_resnet(sd, model)


def _mmpretrain_cnn_types() -> tuple[type, ...]:
    from fovea.models.backbones.alexnet import AlexNet
    from fovea.models.backbones.densenet import DenseNet
    from fovea.models.backbones.googlenet import GoogLeNet
    from fovea.models.backbones.inception_v3 import InceptionV3
    from fovea.models.backbones.vgg import VGG
    return (ResNet, VGG, AlexNet, GoogLeNet, InceptionV3, DenseNet)


@register_converter('mmpretrain')
def convert_mmpretrain_cnn(sd: dict, model: nn.Module) -> dict | None:
    """MMPretrain 1.x (and MMClassification 0.x) checkpoints of the classic CNNs: the same module names."""
    if not any(k.startswith('backbone.') for k in sd):
        return None
    found = locate(model, _mmpretrain_cnn_types())
    if found is None:
        return None
    _, prefix, _ = found
    out = {}
    for k, v in sd.items():
        if k.startswith('data_preprocessor.'):
            continue
        if prefix == '':  # loading a whole classifier's checkpoint into a bare backbone
            if not k.startswith('backbone.'):
                continue
            k = k[len('backbone.'):]
        out[k] = v
    return check_shapes(out, model)

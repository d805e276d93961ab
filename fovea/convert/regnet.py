"""Converters for RegNetX from timm (``regnetx_002`` .. ``regnetx_320``: ``stem.conv``, ``s{i}.b{j}.conv{1,2,3}``)
and torchvision (``regnet_x_800mf`` .. ``regnet_x_32gf``: ``stem``, ``trunk_output.block{i}.block{i}-{j}.f.{a,b,c}``).
torchvision's ``regnet_x_400mf`` rounds its last stage to 400 channels where MMPretrain and timm have
384, so it does not fit MMPretrain's RegNetX-400MF (the shape check refuses it). MMPretrain checkpoints
already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.backbones.regnet import RegNet
from fovea.models.weights import register_converter

__all__ = ['convert_timm_regnet', 'convert_torchvision_regnet']

_TV_CONV = {'a': 1, 'b': 2, 'c': 3}
_NORM = {'0': 'conv', '1': 'bn'}


def _convert(sd: dict, model: nn.Module, rules) -> dict | None:
    found = locate(model, RegNet)
    if found is None:
        return None
    _, prefix, head = found
    out = {}
    for k, v in sd.items():
        for pattern, target in rules:
            if m := re.fullmatch(pattern, k):
                name = target(m)
                if name.startswith('head.'):
                    if head is None:
                        break
                    out[f'{head}{name[5:]}'] = v
                else:
                    out[f'{prefix}{name}'] = v
                break
        else:
            return None
    return check_shapes(out, model)


def _layer(stage: str, block: str) -> str:
    return f'layer{stage}.{int(block) - 1}'


_TIMM = [
    (r'stem\.conv\.(\w+)', lambda m: f'conv1.{m[1]}'),
    (r'stem\.bn\.(\w+)', lambda m: f'bn1.{m[1]}'),
    (r's(\d)\.b(\d+)\.conv([123])\.conv\.(\w+)', lambda m: f'{_layer(m[1], m[2])}.conv{m[3]}.{m[4]}'),
    (r's(\d)\.b(\d+)\.conv([123])\.bn\.(\w+)', lambda m: f'{_layer(m[1], m[2])}.bn{m[3]}.{m[4]}'),
    (r's(\d)\.b(\d+)\.downsample\.conv\.(\w+)', lambda m: f'{_layer(m[1], m[2])}.downsample.0.{m[3]}'),
    (r's(\d)\.b(\d+)\.downsample\.bn\.(\w+)', lambda m: f'{_layer(m[1], m[2])}.downsample.1.{m[3]}'),
    (r'head\.fc\.(\w+)', lambda m: f'head.fc.{m[1]}'),
]
_TORCHVISION = [
    (r'stem\.([01])\.(\w+)', lambda m: f'{"conv1" if m[1] == "0" else "bn1"}.{m[2]}'),
    (r'trunk_output\.block(\d)\.block\d-(\d+)\.f\.([abc])\.([01])\.(\w+)',
     lambda m: f'layer{m[1]}.{m[2]}.{_NORM[m[4]]}{_TV_CONV[m[3]]}.{m[5]}'),
    (r'trunk_output\.block(\d)\.block\d-(\d+)\.proj\.([01])\.(\w+)', lambda m: f'layer{m[1]}.{m[2]}.downsample.{m[3]}.{m[4]}'),
    (r'fc\.(\w+)', lambda m: f'head.fc.{m[1]}'),
]


@register_converter('timm')
def convert_timm_regnet(sd: dict, model: nn.Module) -> dict | None:
    """timm RegNetX -> fovea RegNet."""
    if 'stem.conv.weight' not in sd or 's1.b1.conv1.conv.weight' not in sd or any('.se.' in k for k in sd):
        return None
    return _convert(sd, model, _TIMM)


@register_converter('torchvision')
def convert_torchvision_regnet(sd: dict, model: nn.Module) -> dict | None:
    """torchvision RegNetX -> fovea RegNet."""
    if 'trunk_output.block1.block1-0.f.a.0.weight' not in sd or any('.se.' in k for k in sd):
        return None
    return _convert(sd, model, _TORCHVISION)

"""Converter for ShuffleNetV2 from torchvision (``shufflenet_v2_x0_5`` .. ``x2_0``).

MMPretrain checkpoints of ShuffleNetV1/V2 already use fovea's names and load as they are.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.weights import register_converter
from fovea.models.backbones.shufflenet_v2 import ShuffleNetV2

__all__ = ['convert_torchvision_shufflenet_v2']

# torchvision index inside branch1/branch2 -> fovea (ConvModule index, conv|bn)
_BRANCH1 = {'0': ('0', 'conv'), '1': ('0', 'bn'), '2': ('1', 'conv'), '3': ('1', 'bn')}
_BRANCH2 = {'0': ('0', 'conv'), '1': ('0', 'bn'), '3': ('1', 'conv'), '4': ('1', 'bn'), '5': ('2', 'conv'),
            '6': ('2', 'bn')}


@register_converter('torchvision')
def convert_torchvision_shufflenet_v2(sd: dict, model: nn.Module) -> dict | None:
    """torchvision ShuffleNetV2 -> fovea ShuffleNetV2 (``stageN`` -> ``layers.N-2``, ``conv5`` -> ``layers.3``)."""
    if 'stage2.0.branch1.0.weight' not in sd or 'conv5.0.weight' not in sd:
        return None
    found = locate(model, ShuffleNetV2)
    if found is None:
        return None
    _, prefix, head = found
    out = {}
    for k, v in sd.items():
        if m := re.fullmatch(r'conv1\.([01])\.(\w+)', k):
            out[f'{prefix}conv1.{"conv" if m[1] == "0" else "bn"}.{m[2]}'] = v
        elif m := re.fullmatch(r'stage(\d)\.(\d+)\.branch([12])\.(\d)\.(\w+)', k):
            idx, part = (_BRANCH1 if m[3] == '1' else _BRANCH2)[m[4]]
            out[f'{prefix}layers.{int(m[1]) - 2}.{m[2]}.branch{m[3]}.{idx}.{part}.{m[5]}'] = v
        elif m := re.fullmatch(r'conv5\.([01])\.(\w+)', k):
            out[f'{prefix}layers.3.{"conv" if m[1] == "0" else "bn"}.{m[2]}'] = v
        elif m := re.fullmatch(r'fc\.(weight|bias)', k):
            if head is not None:
                out[f'{head}fc.{m[1]}'] = v
        else:
            return None
    return check_shapes(out, model)

"""Converter for RepVGG from timm (``repvgg_a0`` .. ``repvgg_b3g4``, ``repvgg_d2se``; training form).
MMPretrain checkpoints, training or deploy form, already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.weights import register_converter
from fovea.models.backbones.repvgg import RepVGG

__all__ = ['convert_timm_repvgg']

_PARTS = {'identity': 'branch_norm', 'conv_kxk.conv': 'branch_3x3.conv', 'conv_kxk.bn': 'branch_3x3.norm',
          'conv_1x1.conv': 'branch_1x1.conv', 'conv_1x1.bn': 'branch_1x1.norm',
          'attn.fc1': 'se_layer.conv1.conv', 'attn.fc2': 'se_layer.conv2.conv'}
_BLOCK = r'(identity|conv_kxk\.conv|conv_kxk\.bn|conv_1x1\.conv|conv_1x1\.bn|attn\.fc1|attn\.fc2)\.(\w+)'


@register_converter('timm')
def convert_timm_repvgg(sd: dict, model: nn.Module) -> dict | None:
    """timm ``stem`` / ``stages.i.j`` RepVGG blocks -> fovea ``stem`` / ``stage_{i+1}.j``."""
    if 'stem.conv_kxk.conv.weight' not in sd or 'stages.0.0.conv_kxk.conv.weight' not in sd:
        return None
    found = locate(model, RepVGG)
    if found is None or found[0].deploy:
        return None
    _, prefix, head = found
    out = {}
    for k, v in sd.items():
        if m := re.fullmatch(r'stem\.' + _BLOCK, k):
            out[f'{prefix}stem.{_PARTS[m[1]]}.{m[2]}'] = v
        elif m := re.fullmatch(r'stages\.(\d+)\.(\d+)\.' + _BLOCK, k):
            out[f'{prefix}stage_{int(m[1]) + 1}.{m[2]}.{_PARTS[m[3]]}.{m[4]}'] = v
        elif m := re.fullmatch(r'head\.fc\.(weight|bias)', k):
            if head is not None:
                out[f'{head}fc.{m[1]}'] = v
        else:
            return None
    return check_shapes(out, model)

"""Converter for MobileOne from timm (``mobileone_s0`` .. ``mobileone_s4``, Apple's weights; training form
``conv_kxk.<n>`` / ``conv_scale`` / ``identity`` or re-parameterised ``reparam_conv``): ``stem`` ->
``stage0``, ``stages.<i>.<j>`` -> ``stage<i+1>.<j>`` (both alternate depthwise and pointwise blocks),
``attn.fc1/fc2`` (S4's SE) -> ``se.conv1/conv2.conv``. MMPretrain checkpoints already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import rename_into
from fovea.models.backbones.mobileone import MobileOne
from fovea.models.weights import register_converter

__all__ = ['convert_timm_mobileone']

_PARTS = {'conv_kxk': 'branch_conv_list', 'conv_scale': 'branch_scale', 'identity': 'branch_norm',
          'reparam_conv': 'branch_reparam', 'attn': 'se', '.bn.': '.norm.', 'fc1': 'conv1.conv', 'fc2': 'conv2.conv'}
_PART = re.compile('|'.join(re.escape(k) for k in _PARTS))


def _rename(key: str) -> str | None:
    if m := re.fullmatch(r'stem\.(.+)', key):
        return f'stage0.{_PART.sub(lambda p: _PARTS[p[0]], m[1])}'
    if m := re.fullmatch(r'stages\.(\d)\.(\d+)\.(.+)', key):
        return f'stage{int(m[1]) + 1}.{m[2]}.{_PART.sub(lambda p: _PARTS[p[0]], m[3])}'
    return None


@register_converter('timm')
def convert_timm_mobileone(sd: dict, model: nn.Module) -> dict | None:
    """timm MobileOne -> fovea MobileOne (the deploy form of either side only loads into the same form)."""
    if not any(k in sd for k in ('stem.conv_kxk.0.conv.weight', 'stem.reparam_conv.weight')) \
            or not any(k.startswith('stages.0.0.') for k in sd):
        return None
    return rename_into(sd, model, MobileOne, (), _rename, head_rename=lambda k: k[len('head.'):])  # head.fc.*

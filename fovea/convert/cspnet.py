"""Converter for CSPNet from timm (``cspdarknet53``, ``cspresnet50``, ``cspresnext50``): ``stem.conv1`` ->
``stem`` (CSPDarkNet) or ``stem.0`` (CSPResNet/ResNeXt), ``stages.<i>.conv_down`` / ``conv_exp`` /
``conv_transition_b`` / ``conv_transition`` -> ``downsample_conv`` / ``expand_conv`` / ``atfer_blocks_conv`` /
``final_conv``; ResNet blocks' ``conv<n>.conv`` / ``conv<n>.bn`` -> ``conv<n>`` / ``bn<n>`` (Darknet blocks keep
their ConvModule names). MMPretrain checkpoints already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import locate, rename_into
from fovea.models.backbones.cspnet import CSPDarkNet, CSPNet
from fovea.models.weights import register_converter

__all__ = ['convert_timm_cspnet']

_STAGE = {'conv_down': 'downsample_conv', 'conv_exp': 'expand_conv', 'conv_transition_b': 'atfer_blocks_conv',
          'conv_transition': 'final_conv'}


@register_converter('timm')
def convert_timm_cspnet(sd: dict, model: nn.Module) -> dict | None:
    """timm CSPDarkNet / CSPResNet / CSPResNeXt -> fovea's."""
    if 'stem.conv1.conv.weight' not in sd or 'stages.0.conv_exp.conv.weight' not in sd:
        return None
    found = locate(model, CSPNet)
    if found is None:
        return None
    darknet = isinstance(found[0], CSPDarkNet)

    def rename(key: str) -> str | None:
        if m := re.fullmatch(r'stem\.conv1\.(conv|bn)\.(\w+)', key):
            return f'stem.{m[1]}.{m[2]}' if darknet else f'stem.0.{m[1]}.{m[2]}'
        if m := re.fullmatch(r'stages\.(\d)\.(conv_down|conv_exp|conv_transition_b|conv_transition)\.(.+)', key):
            return f'stages.{m[1]}.{_STAGE[m[2]]}.{m[3]}'
        if m := re.fullmatch(r'stages\.(\d)\.blocks\.(\d+)\.conv(\d)\.(conv|bn)\.(\w+)', key):
            block = f'stages.{m[1]}.blocks.{m[2]}'
            if darknet:
                return f'{block}.conv{m[3]}.{m[4]}.{m[5]}'
            return f'{block}.conv{m[3]}.{m[5]}' if m[4] == 'conv' else f'{block}.bn{m[3]}.{m[5]}'
        return None
    return rename_into(sd, model, CSPNet, (), rename, head_rename=lambda k: k[len('head.'):])  # head.fc.*

"""Converters for ConvNeXt from torchvision (``convnext_tiny`` .. ``convnext_large``) and timm
(``convnext_tiny`` .. ``convnext_xlarge`` and ConvNeXt V2's ``convnextv2_atto`` .. ``convnextv2_huge``,
any pretrained tag). MMPretrain checkpoints already use
fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.weights import register_converter
from fovea.models.backbones.convnext import ConvNeXt

__all__ = ['convert_torchvision_convnext', 'convert_timm_convnext']

_TV_BLOCK = {'0': 'depthwise_conv', '2': 'norm', '3': 'pointwise_conv1', '5': 'pointwise_conv2'}
_TIMM_BLOCK = {'conv_dw': 'depthwise_conv', 'norm': 'norm', 'mlp.fc1': 'pointwise_conv1',
               'mlp.fc2': 'pointwise_conv2', 'gamma': 'gamma'}
_TIMM_GRN = {'weight': 'gamma', 'bias': 'beta'}   # timm's GlobalResponseNorm -> MMPretrain's GRN


def _finish(out: dict, model: nn.Module, head: str | None, backbone: ConvNeXt, prefix: str,
            final_norm: dict, fc: dict) -> dict | None:
    last = f'norm{backbone.num_stages - 1}'
    if hasattr(backbone, last):
        out.update({f'{prefix}{last}.{k}': v for k, v in final_norm.items()})
    if head is not None:
        out.update({f'{head}fc.{k}': v for k, v in fc.items()})
    return check_shapes(out, model)


@register_converter('torchvision')
def convert_torchvision_convnext(sd: dict, model: nn.Module) -> dict | None:
    """torchvision ConvNeXt: ``features.0`` stem, odd ``features`` stages, even ones downsampling."""
    if 'features.1.0.block.0.weight' not in sd or 'classifier.2.weight' not in sd:
        return None
    found = locate(model, ConvNeXt)
    if found is None:
        return None
    backbone, prefix, head = found
    out, final_norm, fc = {}, {}, {}
    for k, v in sd.items():
        if m := re.fullmatch(r'features\.0\.([01])\.(\w+)', k):
            out[f'{prefix}downsample_layers.0.{m[1]}.{m[2]}'] = v
        elif m := re.fullmatch(r'features\.(\d+)\.(\d+)\.block\.(\d)\.(\w+)', k):
            out[f'{prefix}stages.{(int(m[1]) - 1) // 2}.{m[2]}.{_TV_BLOCK[m[3]]}.{m[4]}'] = v
        elif m := re.fullmatch(r'features\.(\d+)\.(\d+)\.layer_scale', k):
            out[f'{prefix}stages.{(int(m[1]) - 1) // 2}.{m[2]}.gamma'] = v.flatten()
        elif m := re.fullmatch(r'features\.(\d+)\.([01])\.(\w+)', k):
            out[f'{prefix}downsample_layers.{int(m[1]) // 2}.{m[2]}.{m[3]}'] = v
        elif m := re.fullmatch(r'classifier\.0\.(\w+)', k):
            final_norm[m[1]] = v
        elif m := re.fullmatch(r'classifier\.2\.(\w+)', k):
            fc[m[1]] = v
        else:
            return None
    return _finish(out, model, head, backbone, prefix, final_norm, fc)


@register_converter('timm')
def convert_timm_convnext(sd: dict, model: nn.Module) -> dict | None:
    """timm ConvNeXt: ``stem``, ``stages.i.downsample`` and ``stages.i.blocks.j``, ``head.norm``/``head.fc``."""
    if 'stem.0.weight' not in sd or 'stages.0.blocks.0.conv_dw.weight' not in sd:
        return None
    found = locate(model, ConvNeXt)
    if found is None:
        return None
    backbone, prefix, head = found
    out, final_norm, fc = {}, {}, {}
    for k, v in sd.items():
        if m := re.fullmatch(r'stem\.([01])\.(\w+)', k):
            out[f'{prefix}downsample_layers.0.{m[1]}.{m[2]}'] = v
        elif m := re.fullmatch(r'stages\.(\d+)\.downsample\.([01])\.(\w+)', k):
            out[f'{prefix}downsample_layers.{m[1]}.{m[2]}.{m[3]}'] = v
        elif m := re.fullmatch(r'stages\.(\d+)\.blocks\.(\d+)\.(conv_dw|norm|mlp\.fc1|mlp\.fc2)\.(\w+)', k):
            out[f'{prefix}stages.{m[1]}.{m[2]}.{_TIMM_BLOCK[m[3]]}.{m[4]}'] = v
        elif m := re.fullmatch(r'stages\.(\d+)\.blocks\.(\d+)\.mlp\.grn\.(weight|bias)', k):
            out[f'{prefix}stages.{m[1]}.{m[2]}.grn.{_TIMM_GRN[m[3]]}'] = v
        elif m := re.fullmatch(r'stages\.(\d+)\.blocks\.(\d+)\.gamma', k):
            out[f'{prefix}stages.{m[1]}.{m[2]}.gamma'] = v
        elif m := re.fullmatch(r'head\.norm\.(\w+)', k):
            final_norm[m[1]] = v
        elif m := re.fullmatch(r'head\.fc\.(\w+)', k):
            fc[m[1]] = v
        else:
            return None
    return _finish(out, model, head, backbone, prefix, final_norm, fc)

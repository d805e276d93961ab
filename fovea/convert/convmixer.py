"""Converter for ConvMixer from timm (``convmixer_768_32``, ``convmixer_1024_20_ks9_p14``,
``convmixer_1536_20``): timm's ``blocks.<i>`` are MMPretrain's ``stages.<i>`` and its ``head`` a bare
Linear (fovea's ``head.fc``); every other name is the same. MMPretrain checkpoints already use fovea's names."""
from __future__ import annotations

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.backbones.convmixer import ConvMixer
from fovea.models.weights import register_converter

__all__ = ['convert_timm_convmixer']


@register_converter('timm')
def convert_timm_convmixer(sd: dict, model: nn.Module) -> dict | None:
    """timm ConvMixer -> fovea ConvMixer."""
    if 'stem.0.weight' not in sd or 'blocks.0.0.fn.0.weight' not in sd:
        return None
    found = locate(model, ConvMixer)
    if found is None:
        return None
    _, prefix, head = found
    out = {}
    for k, v in sd.items():
        if k.startswith('head.'):
            if head is not None:
                out[f'{head}fc.{k[5:]}'] = v
        elif k.startswith('blocks.'):
            out[f'{prefix}stages.{k[7:]}'] = v
        elif k.startswith('stem.'):
            out[f'{prefix}{k}'] = v
        else:
            return None
    return check_shapes(out, model)

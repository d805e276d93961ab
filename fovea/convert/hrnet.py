"""Converter for HRNet from timm (``hrnet_w18`` .. ``hrnet_w64``, the authors' classification weights).

The backbone keys are MMPretrain's already (both follow the authors' code). The classification part maps
onto the :class:`~fovea.models.necks.hr_fuse.HRFuseScales` neck: ``incre_modules`` -> ``increase_layers``,
``downsamp_modules`` -> ``downsample_layers``, ``final_layer`` -> ``final_layer``, ``classifier`` ->
``head.fc``. timm's downsampling and final convs carry a bias that MMPretrain's (followed by batch norm)
do not: it is folded into the batch norm's running mean (``BN(conv(x) + b)`` with mean ``mu`` is
``BN(conv(x))`` with mean ``mu - b``), which is exact in eval mode. MMPretrain checkpoints already use
fovea's names.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.backbones.hrnet import HRNet
from fovea.models.necks.hr_fuse import HRFuseScales
from fovea.models.weights import register_converter

__all__ = ['convert_timm_hrnet']

_NECK = re.compile(r'(incre_modules|downsamp_modules|final_layer)\.(?:(\d+)\.)?(\d)\.(.+)')
_CONV_BN = {'0': 'conv', '1': 'bn'}


def _neck_key(m: re.Match) -> str:
    part, index, child, rest = m[1], m[2], m[3], m[4]
    if part == 'incre_modules':
        return f'increase_layers.{index}.{child}.{rest}'
    if part == 'downsamp_modules':
        return f'downsample_layers.{index}.{_CONV_BN[child]}.{rest}'
    return f'final_layer.{_CONV_BN[child]}.{rest}'


@register_converter('timm')
def convert_timm_hrnet(sd: dict, model: nn.Module) -> dict | None:
    """timm HRNet (classification form) -> fovea HRNet + HRFuseScales + LinearClsHead."""
    if 'incre_modules.0.0.conv1.weight' not in sd or 'stage2.0.fuse_layers.0.1.0.weight' not in sd:
        return None
    found = locate(model, HRNet)
    if found is None:
        return None
    _, prefix, head = found
    neck = getattr(model, 'neck', None) if prefix else None
    fuse = next((m for m in (neck or ()) if isinstance(m, HRFuseScales)), None) \
        if isinstance(neck, nn.Sequential) else None
    fuse_prefix = f'neck.{list(neck).index(fuse)}.' if fuse is not None else None
    sd = dict(sd)
    for conv in [k[:-len('.0.bias')] for k in sd if re.fullmatch(r'(downsamp_modules\.\d+|final_layer)\.0\.bias', k)]:
        bias = sd.pop(f'{conv}.0.bias')
        sd[f'{conv}.1.running_mean'] = sd[f'{conv}.1.running_mean'] - bias
    out = {}
    for k, v in sd.items():
        if m := _NECK.fullmatch(k):
            if fuse_prefix is not None:
                out[fuse_prefix + _neck_key(m)] = v
        elif k.startswith('classifier.'):
            if head is not None:
                out[f'{head}fc.{k[len("classifier."):]}'] = v
        else:
            out[prefix + k] = v
    return check_shapes(out, model)

"""Weight converters for MobileViT: timm (``mobilevit_*``) and MMPretrain 1.x -> fovea."""
from __future__ import annotations

import re

from torch import nn

from fovea.models.weights import register_converter
from fovea.convert.vision_transformer import target_prefixes

__all__ = ['convert_timm_mobilevit', 'convert_mmpretrain_mobilevit']

# MMPretrain's MobileNetV2 inverted residual is a Sequential ``conv`` (expand, depthwise, linear)
_MM_IR = {'0': 'expand_conv', '1': 'depthwise_conv', '2': 'linear_conv'}


@register_converter('mmpretrain')
def convert_mmpretrain_mobilevit(sd: dict, model: nn.Module) -> dict | None:
    if not any('.global_rep.' in k for k in sd):
        return None
    bb, _ = target_prefixes(model)
    out = {}
    for k, v in sd.items():
        new = re.sub(r'(layers\.\d+\.\d+)\.conv\.([012])\.', lambda m: f'{m.group(1)}.{_MM_IR[m.group(2)]}.', k)
        if bb == '' and new.startswith('backbone.'):
            new = new[len('backbone.'):]
        elif bb == '' and new.startswith(('head.', 'neck.')):
            continue
        elif bb and not new.startswith(('backbone.', 'head.', 'neck.', 'data_preprocessor.')):
            new = bb + new
        out[new] = v
    return out


_TIMM_MVIT = [
    (r'^stages\.', 'layers.'),
    (r'\.conv1_1x1\.', '.expand_conv.'),
    (r'\.conv2_kxk\.', '.depthwise_conv.'),
    (r'\.conv3_1x1\.', '.linear_conv.'),
    (r'\.conv_kxk\.', '.local_rep.0.'),
    (r'\.conv_1x1\.weight$', '.local_rep.1.conv.weight'),
    (r'\.transformer\.(\d+)\.norm1\.', r'.global_rep.\1.ln1.'),
    (r'\.transformer\.(\d+)\.norm2\.', r'.global_rep.\1.ln2.'),
    (r'\.transformer\.(\d+)\.attn\.', r'.global_rep.\1.attn.'),
    (r'\.transformer\.(\d+)\.mlp\.fc1\.', r'.global_rep.\1.ffn.layers.0.0.'),
    (r'\.transformer\.(\d+)\.mlp\.fc2\.', r'.global_rep.\1.ffn.layers.1.'),
    (r'^final_conv\.', 'conv_1x1_exp.'),
]


@register_converter('timm')
def convert_timm_mobilevit(sd: dict, model: nn.Module) -> dict | None:
    """timm ``mobilevit_xxs/xs/s`` -> fovea."""
    if 'final_conv.conv.weight' not in sd or not any('.transformer.0.attn.qkv' in k for k in sd):
        return None
    model_keys = set(model.state_dict())
    bb, head = target_prefixes(model)
    # the norm after a block's transformer layers is the last entry of fovea's global_rep
    depth = {}
    for k in sd:
        m = re.match(r'^stages\.(\d+)\.1\.transformer\.(\d+)\.', k)
        if m:
            depth[m.group(1)] = max(depth.get(m.group(1), 0), int(m.group(2)) + 1)
    out = {}
    for k, v in sd.items():
        if k.startswith('head.'):
            rest = k[len('head.'):]
            rest = rest[len('fc.'):] if rest.startswith('fc.') else rest
            if head is not None and f'{head}fc.weight' in model_keys:
                out[f'{head}fc.{rest}'] = v
            continue
        m = re.match(r'^stages\.(\d+)\.1\.norm\.(.*)$', k)
        if m:
            out[f'{bb}layers.{m.group(1)}.1.global_rep.{depth[m.group(1)]}.{m.group(2)}'] = v
            continue
        new = k
        for pat, rep in _TIMM_MVIT:
            new = re.sub(pat, rep, new)
        out[bb + new] = v
    return out

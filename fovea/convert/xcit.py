"""Converter for XCiT from timm (``xcit_nano_12_p16_224`` .. ``xcit_large_24_p8_384``, distilled or not):
``blocks`` -> ``xca_layers``, ``cls_attn_blocks`` -> ``ca_layers``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0`` /
``ffn.layers.1`` (MMCV's FFN), the patch embedding's ``proj.<2i>.{0,1}`` (conv, BN between GELUs) ->
``proj.<i>.{conv,bn}``, the LPI's ``conv1/bn/conv2`` and the position encoding's projection -> ConvModule
children, ``head`` -> ``head.fc``. MMPretrain checkpoints already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import rename_into
from fovea.models.backbones.xcit import XCiT
from fovea.models.weights import register_converter

__all__ = ['convert_timm_xcit']

_RENAMES = [
    (re.compile(r'patch_embed\.proj\.(\d+)\.([01])\.'),
     lambda m: f'patch_embed.proj.{int(m[1]) // 2}.{"conv" if m[2] == "0" else "bn"}.'),
    (re.compile(r'^blocks\.'), 'xca_layers.'),
    (re.compile(r'^cls_attn_blocks\.'), 'ca_layers.'),
    (re.compile(r'\.mlp\.fc1\.'), '.ffn.layers.0.0.'),
    (re.compile(r'\.mlp\.fc2\.'), '.ffn.layers.1.'),
    (re.compile(r'\.local_mp\.conv1\.'), '.local_mp.conv1.conv.'),
    (re.compile(r'\.local_mp\.bn\.'), '.local_mp.conv1.bn.'),
    (re.compile(r'\.local_mp\.conv2\.'), '.local_mp.conv2.conv.'),
    (re.compile(r'^pos_embed\.token_projection\.'), 'pos_embed.token_projection.conv.'),
]


def _rename(key: str) -> str:
    for rx, new in _RENAMES:
        key = rx.sub(new, key)
    return key


@register_converter('timm')
def convert_timm_xcit(sd: dict, model: nn.Module) -> dict | None:
    """timm Xcit -> fovea XCiT."""
    return rename_into(sd, model, XCiT, ('cls_attn_blocks.0.attn.q.weight', 'blocks.0.attn.temperature'), _rename)

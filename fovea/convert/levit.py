"""Converter for LeViT from timm (``levit_128s`` .. ``levit_384``, distilled heads; not the ``levit_conv_*``
variants): ``stem.conv<n>.linear/bn`` -> ``patch_embed.patch_embed.<2n-2>.conv/bn``; stage ``i``'s
``downsample.attn_downsample`` and ``downsample.mlp`` -> ``stages.<i>.0`` / ``stages.<i>.1.block``, its
``blocks.<j>.attn`` / ``.mlp`` -> ``stages.<i>.<b + 2j>.block`` / ``<b + 2j + 1>.block`` (b = 2 after a
downsample, else 0); ``proj.ln`` / ``q.ln`` -> ``proj.1`` / ``q.1``, ``mlp.ln1/ln2`` -> ``linear1/linear2``;
``head`` / ``head_dist`` -> ``head.head`` / ``head.head_dist``. MMPretrain checkpoints already use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import rename_into
from fovea.models.backbones.levit import LeViT
from fovea.models.weights import register_converter

__all__ = ['convert_timm_levit']

_STEM = re.compile(r'stem\.conv(\d)\.(linear|bn)\.(.*)')
_BLOCK = re.compile(r'stages\.(\d+)\.(?:blocks\.(\d+)\.(attn|mlp)|downsample\.(attn_downsample|mlp))\.(.*)')
_INNER = [('proj.ln.', 'proj.1.'), ('q.ln.', 'q.1.'), ('ln1.', 'linear1.'), ('ln2.', 'linear2.')]


def _rename(key: str) -> str | None:
    if m := _STEM.fullmatch(key):
        return f'patch_embed.patch_embed.{2 * int(m[1]) - 2}.{"conv" if m[2] == "linear" else "bn"}.{m[3]}'
    m = _BLOCK.fullmatch(key)
    if m is None:
        return None
    stage, rest = int(m[1]), m[5]
    for old, new in _INNER:
        rest = rest.replace(old, new) if rest.startswith(old) else rest
    if m[4] == 'attn_downsample':
        return f'stages.{stage}.0.{rest}'
    if m[4] == 'mlp':
        return f'stages.{stage}.1.block.{rest}'
    index = (2 if stage > 0 else 0) + 2 * int(m[2]) + (m[3] == 'mlp')
    return f'stages.{stage}.{index}.block.{rest}'


@register_converter('timm')
def convert_timm_levit(sd: dict, model: nn.Module) -> dict | None:
    """timm LevitDistilled / Levit -> fovea LeViT with LeViTClsHead."""
    sd = {k: v for k, v in sd.items() if not k.endswith('attention_bias_idxs')}   # derived, rebuilt by fovea
    return rename_into(sd, model, LeViT, ('stem.conv1.linear.weight', 'stages.0.blocks.0.attn.qkv.linear.weight'),
                       _rename, head=('head.', 'head_dist.'), head_rename=lambda k: k)

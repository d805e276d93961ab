"""Converter for MLP-Mixer from timm (``mixer_s16_224`` .. ``mixer_l32_224``, any pretrained tag):
``stem.proj`` -> ``patch_embed.projection``, ``blocks.<i>.mlp_tokens`` / ``mlp_channels`` (``fc1``,
``fc2``) -> ``layers.<i>.token_mix`` / ``channel_mix`` (MMCV FFN: ``layers.0.0``, ``layers.1``),
``norm`` -> ``ln1``, ``head`` -> ``head.fc``. timm's LayerNorms use eps 1e-6, MMPretrain's 1e-5 (build
with ``norm_cfg=dict(type='LN', eps=1e-6)`` for timm's exact outputs). MMPretrain checkpoints already
use fovea's names."""
from __future__ import annotations

import re

from torch import nn

from fovea.convert._targets import check_shapes, locate
from fovea.models.backbones.mlp_mixer import MlpMixer
from fovea.models.weights import register_converter

__all__ = ['convert_timm_mlp_mixer']

_BLOCK = {'norm1': 'ln1', 'norm2': 'ln2', 'mlp_tokens.fc1': 'token_mix.layers.0.0',
          'mlp_tokens.fc2': 'token_mix.layers.1', 'mlp_channels.fc1': 'channel_mix.layers.0.0',
          'mlp_channels.fc2': 'channel_mix.layers.1'}
_RX = re.compile(r'blocks\.(\d+)\.(norm[12]|mlp_tokens\.fc[12]|mlp_channels\.fc[12])\.(weight|bias)')


@register_converter('timm')
def convert_timm_mlp_mixer(sd: dict, model: nn.Module) -> dict | None:
    """timm MlpMixer -> fovea MlpMixer."""
    if 'stem.proj.weight' not in sd or 'blocks.0.mlp_tokens.fc1.weight' not in sd:
        return None
    found = locate(model, MlpMixer)
    if found is None:
        return None
    _, prefix, head = found
    out = {}
    for k, v in sd.items():
        if m := _RX.fullmatch(k):
            out[f'{prefix}layers.{m[1]}.{_BLOCK[m[2]]}.{m[3]}'] = v
        elif k.startswith('stem.proj.'):
            out[f'{prefix}patch_embed.projection.{k[10:]}'] = v
        elif k.startswith('norm.'):
            out[f'{prefix}ln1.{k[5:]}'] = v
        elif k.startswith('head.'):
            if head is not None:
                out[f'{head}fc.{k[5:]}'] = v
        else:
            return None
    return check_shapes(out, model)

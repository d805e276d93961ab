"""Weight converters for CLIP: OpenAI's checkpoints (the released TorchScript archives, read as data
by :func:`fovea.utils.weights.read_weights`, or their state dicts) and open_clip's, into fovea's
:class:`~fovea.models.multimodal.clip.CLIP` (MMPretrain's names, so MMPretrain CLIP checkpoints need
no converter). A CLIP checkpoint's image tower alone also loads into a ViT classifier (MMPretrain's
CLIP-pretrained ViT fine-tuning configs).

OpenAI/open_clip -> fovea, ViT tower: ``visual.conv1`` -> ``visual.patch_embed.projection``,
``class_embedding`` -> ``cls_token``, ``positional_embedding`` -> ``pos_embed``, ``ln_pre`` ->
``pre_norm``, ``transformer.resblocks.N`` -> ``layers.N`` (``ln_1``/``ln_2`` -> ``ln1``/``ln2``,
``attn.in_proj_*`` -> ``attn.qkv``, ``attn.out_proj`` -> ``attn.proj``, ``mlp.c_fc``/``mlp.c_proj`` ->
``ffn.layers.0.0``/``ffn.layers.1``), ``ln_post`` -> ``ln1``, ``proj`` -> ``visual_proj.proj``. The
ResNet tower and the text tower keep their names.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.models.weights import register_converter

__all__ = ['convert_openai_clip', 'is_clip_state_dict', 'openai_visual']

StateDict = dict

#: entries of OpenAI's state dicts that are settings, not weights
_SETTINGS = ('input_resolution', 'context_length', 'vocab_size', 'attn_mask', 'logit_bias')

_VIT = [
    (r'^conv1\.', 'patch_embed.projection.'),
    (r'^class_embedding$', 'cls_token'),
    (r'^positional_embedding$', 'pos_embed'),
    (r'^ln_pre\.', 'pre_norm.'),
    (r'^ln_post\.', 'ln1.'),
    (r'^transformer\.resblocks\.(\d+)\.ln_1\.', r'layers.\1.ln1.'),
    (r'^transformer\.resblocks\.(\d+)\.ln_2\.', r'layers.\1.ln2.'),
    (r'^transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$', r'layers.\1.attn.qkv.\2'),
    (r'^transformer\.resblocks\.(\d+)\.attn\.out_proj\.', r'layers.\1.attn.proj.'),
    (r'^transformer\.resblocks\.(\d+)\.mlp\.c_fc\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^transformer\.resblocks\.(\d+)\.mlp\.c_proj\.', r'layers.\1.ffn.layers.1.'),
]


def is_clip_state_dict(sd: StateDict) -> bool:
    """OpenAI / open_clip layout: a ``visual.conv1`` stem and a token embedding."""
    return 'visual.conv1.weight' in sd and 'token_embedding.weight' in sd


def _vit_key(k: str) -> str:
    for pat, rep in _VIT:
        k = re.sub(pat, rep, k)
    return k


def openai_visual(sd: StateDict) -> StateDict:
    """An OpenAI-layout ``visual.`` image tower (OpenAI, open_clip, OFA-Sys Chinese CLIP) in fovea's names (keys
    without the ``visual.`` prefix); ``visual.proj`` left out."""
    vit = 'visual.class_embedding' in sd
    out = {}
    for k, v in sd.items():
        if not k.startswith('visual.') or k == 'visual.proj':
            continue
        name = k[len('visual.'):]
        if vit:
            name = _vit_key(name)
            if name == 'cls_token':
                v = v.reshape(1, 1, -1)
            elif name == 'pos_embed':
                v = v.unsqueeze(0)
        out[name] = v
    return out


@register_converter('clip')
def convert_openai_clip(sd: StateDict, model: nn.Module) -> StateDict | None:
    """OpenAI CLIP / open_clip (ViT or ModifiedResNet towers) -> fovea CLIP, or its image tower -> a ViT
    (bare or the backbone of a classifier)."""
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    if not is_clip_state_dict(sd):
        return None
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()
          if k.split('.')[-1] not in _SETTINGS}
    visual = openai_visual(sd)
    from fovea.models.multimodal.clip import CLIP
    if not isinstance(model, CLIP):
        from fovea.convert.vision_transformer import target_prefixes
        if 'cls_token' not in visual:
            return None  # a ResNet tower has no fovea classifier counterpart
        bb, _ = target_prefixes(model)
        return {bb + k: v for k, v in visual.items()}
    out = {'visual.' + k: v for k, v in visual.items()}
    if 'visual.proj' in sd:
        out['visual_proj.proj'] = sd['visual.proj']
    out.update({k: v for k, v in sd.items() if not k.startswith('visual.')})
    return out

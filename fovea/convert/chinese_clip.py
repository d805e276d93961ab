"""Weight converters for Chinese CLIP into fovea's ``ChineseCLIP`` (MMPretrain's names, so the checkpoints
MMPretrain converted load without a converter), told apart by their keys:

* OFA-Sys' checkpoints (``clip_cn_vit-b-16.pt``, ``clip_cn_rn50.pt``, ...: a ``state_dict`` with ``module.``
  prefixes): ``visual.`` in OpenAI's layout (translated as OpenAI CLIP's, ``visual.proj`` -> ``vision_projection``),
  ``bert.`` -> ``text_backbone.`` (its pooler dropped), ``text_projection`` and ``logit_scale`` as they are.
* ``transformers``' ``ChineseCLIPModel`` (``vision_model.``, ``text_model.``, ``visual_projection``,
  ``text_projection``): the vision transformer's ``embeddings.{class_embedding, patch_embedding,
  position_embedding}`` -> ``cls_token``, ``patch_embed.projection``, ``pos_embed``; ``pre_layrnorm`` ->
  ``pre_norm``; ``encoder.layers.N.{layer_norm1, layer_norm2}`` -> ``layers.N.{ln1, ln2}``; ``self_attn.{q,k,v}_proj``
  -> ``attn.qkv`` (concatenated), ``self_attn.out_proj`` -> ``attn.proj``; ``mlp.fc1``/``fc2`` ->
  ``ffn.layers.0.0``/``ffn.layers.1``; ``post_layernorm`` -> ``ln1``; the projections (linear layers there) transposed.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from fovea.convert.clip import openai_visual
from fovea.models.weights import register_converter

__all__ = ['convert_chinese_clip', 'hf_clip_vision']

StateDict = dict

_HF_VIT = [
    (r'^embeddings\.patch_embedding\.', 'patch_embed.projection.'),
    (r'^pre_layrnorm\.', 'pre_norm.'),
    (r'^post_layernorm\.', 'ln1.'),
    (r'^encoder\.layers\.(\d+)\.layer_norm1\.', r'layers.\1.ln1.'),
    (r'^encoder\.layers\.(\d+)\.layer_norm2\.', r'layers.\1.ln2.'),
    (r'^encoder\.layers\.(\d+)\.self_attn\.out_proj\.', r'layers.\1.attn.proj.'),
    (r'^encoder\.layers\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^encoder\.layers\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
]
_QKV = re.compile(r'^encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$')


def hf_clip_vision(sd: StateDict, prefix: str = 'vision_model.') -> StateDict:
    """A ``transformers`` CLIP-style vision transformer (``CLIPVisionTransformer``'s names, which
    ``ChineseCLIPVisionTransformer`` keeps) under ``prefix`` in fovea's ViT names (without prefix)."""
    out, qkv = {}, {}
    for key, v in sd.items():
        if not key.startswith(prefix) or key.endswith('position_ids'):
            continue
        k = key[len(prefix):]
        m = _QKV.match(k)
        if m:
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = v
            continue
        if k == 'embeddings.class_embedding':
            out['cls_token'] = v.reshape(1, 1, -1)
        elif k == 'embeddings.position_embedding.weight':
            out['pos_embed'] = v.unsqueeze(0)
        else:
            for pat, rep in _HF_VIT:
                k = re.sub(pat, rep, k)
            out[k] = v
    for (layer, kind), parts in qkv.items():
        out[f'layers.{layer}.attn.qkv.{kind}'] = torch.cat([parts['q'], parts['k'], parts['v']], dim=0)
    return out


def _ofa_sys(sd: StateDict) -> StateDict:
    out = {'vision_backbone.' + k: v for k, v in openai_visual(sd).items()}
    if 'visual.proj' in sd:
        out['vision_projection'] = sd['visual.proj']
    for k, v in sd.items():
        if k.startswith('bert.') and not k.startswith('bert.pooler.') and not k.endswith('position_ids'):
            out['text_backbone.' + k[len('bert.'):]] = v
    out.update({k: sd[k] for k in ('text_projection', 'logit_scale') if k in sd})
    return out


def _transformers(sd: StateDict) -> StateDict:
    out = {'vision_backbone.' + k: v for k, v in hf_clip_vision(sd).items()}
    for k, v in sd.items():
        if k.startswith('text_model.') and not k.startswith('text_model.pooler.') \
                and not k.endswith(('position_ids', 'token_type_ids')):
            out['text_backbone.' + k[len('text_model.'):]] = v
    if 'visual_projection.weight' in sd:
        out['vision_projection'] = sd['visual_projection.weight'].T.contiguous()
    if 'text_projection.weight' in sd:
        out['text_projection'] = sd['text_projection.weight'].T.contiguous()
    if 'logit_scale' in sd:
        out['logit_scale'] = sd['logit_scale']
    return out


@register_converter('chinese_clip')
def convert_chinese_clip(sd: StateDict, model: nn.Module) -> StateDict | None:
    """OFA-Sys Chinese CLIP or ``transformers`` ``ChineseCLIPModel`` weights -> fovea ``ChineseCLIP``."""
    from fovea.models.multimodal.chinese_clip import ChineseCLIP
    if not isinstance(model, ChineseCLIP):
        return None
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    if 'bert.embeddings.word_embeddings.weight' in sd and any(k.startswith('visual.') for k in sd):
        out = _ofa_sys(sd)
    elif 'text_model.embeddings.word_embeddings.weight' in sd and 'vision_model.embeddings.patch_embedding.weight' in sd:
        out = _transformers(sd)
    else:
        return None
    return {k: v.float() if v.is_floating_point() else v for k, v in out.items()}

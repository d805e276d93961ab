"""Weight converters for ViT / DeiT (incl. distilled): timm and MMPretrain 1.x (and mmcls 0.x) layouts,
and the official MAE checkpoints (facebookresearch/mae: timm names under ``model``, with the
pre-training decoder ``decoder_*`` / ``mask_token`` or without it).

fovea uses MMPretrain's module names, so MMPretrain checkpoints need only a few fixes; timm names
are translated. Checkpoints trained at another resolution are fitted by the backbone's
``adapt_state_dict`` (position embedding interpolation) when they are loaded.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.models.weights import register_converter

__all__ = ['convert_timm_vit', 'convert_mae_official', 'convert_mmpretrain_transformer', 'target_prefixes',
           'timm_vit_name']

StateDict = dict


def target_prefixes(model: nn.Module) -> tuple[str | None, str | None]:
    """(backbone prefix, head prefix) of a model's state dict: ('backbone.', 'head.') for a classifier,
    ('', None) for a bare backbone."""
    keys = model.state_dict().keys()
    if any(k.startswith('backbone.') for k in keys):
        return 'backbone.', ('head.' if any(k.startswith('head.') for k in keys) else None)
    return '', None


def _head_name(model_keys, head: str | None, which: str) -> str | None:
    """fovea name of timm's ``head``/``head_dist`` for the model's head type."""
    if head is None:
        return None
    for cand in (f'{head}layers.{which}', f'{head}fc' if which == 'head' else None):
        if cand and f'{cand}.weight' in model_keys:
            return cand
    return None


_TIMM_VIT = [
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.attn\.', r'layers.\1.attn.'),
    (r'^blocks\.(\d+)\.ls1\.gamma$', r'layers.\1.attn.gamma1.weight'),
    (r'^blocks\.(\d+)\.ls2\.gamma$', r'layers.\1.ffn.gamma2.weight'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^norm_pre\.', 'pre_norm.'),
    (r'^norm\.', 'ln1.'),
    (r'^fc_norm\.', 'ln2.'),
]


def timm_vit_name(key: str) -> str:
    """fovea's name of a timm ViT backbone tensor (``blocks.0.norm1.weight`` -> ``layers.0.ln1.weight``)."""
    for pat, rep in _TIMM_VIT:
        key = re.sub(pat, rep, key)
    return key


@register_converter('timm')
def convert_timm_vit(sd: StateDict, model: nn.Module) -> StateDict | None:
    """timm ``VisionTransformer`` (vit_*, deit_*, deit_*_distilled_*) -> fovea."""
    if 'blocks.0.attn.qkv.weight' not in sd or 'patch_embed.proj.weight' not in sd:
        return None
    model_keys = set(model.state_dict())
    bb, head = target_prefixes(model)
    out = {}
    for k, v in sd.items():
        if k.startswith(_MAE_DECODER):
            continue        # an MAE pre-training decoder: convert_mae_official loads it where there is one
        if k.startswith('head_dist.'):
            name = _head_name(model_keys, head, 'head_dist')
            if name:
                out[name + k[len('head_dist'):]] = v
            continue
        if k.startswith('head.'):
            name = _head_name(model_keys, head, 'head')
            if name:
                out[name + k[len('head'):]] = v
            continue
        if k.startswith('pre_logits.fc.'):
            if head is not None:
                out[f'{head}layers.pre_logits.' + k[len('pre_logits.fc.'):]] = v
            continue
        out[bb + timm_vit_name(k)] = v
    return out


_MAE_DECODER = ('decoder_', 'mask_token')
_MAE_DECODER_NAMES = [
    (r'^decoder_blocks\.(\d+)\.norm1\.', r'decoder_blocks.\1.ln1.'),
    (r'^decoder_blocks\.(\d+)\.norm2\.', r'decoder_blocks.\1.ln2.'),
    (r'^decoder_blocks\.(\d+)\.mlp\.fc1\.', r'decoder_blocks.\1.ffn.layers.0.0.'),
    (r'^decoder_blocks\.(\d+)\.mlp\.fc2\.', r'decoder_blocks.\1.ffn.layers.1.'),
    (r'^decoder_norm\.', 'ln1.'),
]


@register_converter('mae')
def convert_mae_official(sd: StateDict, model: nn.Module) -> StateDict | None:
    """An official MAE pre-training checkpoint (timm encoder names + ``decoder_*``) -> an ``MAE``
    model: the encoder to ``backbone.``, the decoder to ``neck.`` (``MAEPretrainDecoder``'s names).
    Models without an MAE decoder get the encoder alone from :func:`convert_timm_vit`."""
    if 'decoder_embed.weight' not in sd or 'neck.decoder_embed.weight' not in model.state_dict():
        return None
    out = convert_timm_vit({k: v for k, v in sd.items() if not k.startswith(_MAE_DECODER)}, model) or {}
    for k, v in sd.items():
        if k.startswith(_MAE_DECODER):
            new = k
            for pat, rep in _MAE_DECODER_NAMES:
                new = re.sub(pat, rep, new)
            out['neck.' + new] = v
    return out


_MM_FIXES = [
    (r'\.ffn\.gamma2\.gamma$', '.ffn.gamma2.weight'),  # mmcv's LayerScale names its vector 'gamma'
    (r'\.attn\.gamma1\.gamma$', '.attn.gamma1.weight'),
]


@register_converter('mmpretrain')
def convert_mmpretrain_transformer(sd: StateDict, model: nn.Module) -> StateDict | None:
    """MMPretrain 1.x / mmcls 0.x ViT, DeiT and Swin checkpoints -> fovea (mostly the same names)."""
    if not any(re.match(r'^(backbone\.)?(layers|stages)\.0\.', k) for k in sd):
        return None
    if not any('.attn.' in k or '.w_msa.' in k for k in sd):
        return None
    bb, _ = target_prefixes(model)
    out = {}
    for k, v in sd.items():
        if k.endswith(('relative_position_index', 'attn_mask')):
            continue  # derived buffers, rebuilt by the model
        new = k
        for pat, rep in _MM_FIXES:
            new = re.sub(pat, rep, new)
        if bb == '' and new.startswith('backbone.'):
            new = new[len('backbone.'):]
        elif bb == '' and new.startswith(('head.', 'neck.')):
            continue
        elif bb and not new.startswith(('backbone.', 'head.', 'neck.', 'data_preprocessor.')):
            new = bb + new  # a bare backbone checkpoint loaded into a classifier
        out[new] = v
    return out

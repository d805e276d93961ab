"""Weight converters for BLIP: Salesforce BLIP / LAVIS checkpoints, MMPretrain BLIP checkpoints and
Hugging Face ``transformers`` checkpoints (``BlipForConditionalGeneration``, ``BlipForImageTextRetrieval``;
``BlipForQuestionAnswering`` through the ``BlipVQA`` entry of :data:`TEXT_PARTS`), told apart by their keys.

Layouts (what each calls the parts) -> fovea (MMPretrain's names):

============  ==========================  ===============================  ==============================
part          Salesforce BLIP             transformers                     fovea / MMPretrain
============  ==========================  ===============================  ==============================
image         ``visual_encoder.`` (timm)  ``vision_model.`` (CLIP-like)    ``visual_encoder.`` (caption),
                                                                           ``vision_backbone.`` (others)
text          ``text_encoder.`` / ``text_decoder.`` (the same BERT names in all three)
projections   ``vision_proj`` / ``text_proj`` / ``itm_head``               ``vision_neck`` / ``text_neck`` /
                                                                           ``multimodal_head.fc``
============  ==========================  ===============================  ==============================

The weights are for inference: momentum copies (``*_m``) and the ITC queues are dropped, and a
retrieval model re-derives them from the online weights when they are loaded
(``BlipRetrieval.adapt_state_dict``); ``position_ids`` buffers are rebuilt by the model.
"""
from __future__ import annotations

import re

from torch import nn

from fovea.convert.vision_transformer import timm_vit_name
from fovea.models.weights import register_converter

__all__ = ['convert_blip', 'blip_layout', 'TEXT_PARTS']

StateDict = dict

#: per fovea model class: checkpoint prefix (Salesforce / transformers) -> fovea prefix
TEXT_PARTS: dict[str, dict[str, str]] = {
    'BlipCaption': {'text_decoder.': 'seq_gen_head.decoder.'},
    'BlipRetrieval': {'text_encoder.': 'text_backbone.', 'vision_proj.': 'vision_neck.', 'text_proj.': 'text_neck.',
                      'itm_head.': 'multimodal_head.fc.', 'temp': 'temp'},
    'BlipVQA': {'text_encoder.': 'multimodal_backbone.', 'text_decoder.': 'vqa_head.decoder.'},
}
#: where each fovea model keeps its image encoder
VISION_PREFIX = {'BlipCaption': 'visual_encoder.'}
DEFAULT_VISION_PREFIX = 'vision_backbone.'

_MOMENTUM = re.compile(r'^(visual_encoder_m|text_encoder_m|vision_proj_m|text_proj_m|vision_backbone_m|'
                       r'text_backbone_m|vision_neck_m|text_neck_m)\.')
_QUEUES = ('image_queue', 'text_queue', 'idx_queue', 'ptr_queue', 'head.image_queue', 'head.text_queue',
           'head.idx_queue', 'head.queue_ptr')

_HF_VISION = [
    (r'^embeddings\.patch_embedding\.', 'patch_embed.projection.'),
    (r'^embeddings\.class_embedding$', 'cls_token'),
    (r'^embeddings\.position_embedding$', 'pos_embed'),
    (r'^encoder\.layers\.(\d+)\.layer_norm1\.', r'layers.\1.ln1.'),
    (r'^encoder\.layers\.(\d+)\.layer_norm2\.', r'layers.\1.ln2.'),
    (r'^encoder\.layers\.(\d+)\.self_attn\.qkv\.', r'layers.\1.attn.qkv.'),
    (r'^encoder\.layers\.(\d+)\.self_attn\.projection\.', r'layers.\1.attn.proj.'),
    (r'^encoder\.layers\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^encoder\.layers\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^post_layernorm\.', 'ln1.'),
]


def blip_layout(sd: StateDict) -> str | None:
    """'transformers', 'salesforce', 'mmpretrain' or None (not a BLIP checkpoint)."""
    if any(k.startswith('vision_model.embeddings.') for k in sd) and \
            any(k.startswith(('text_decoder.bert.', 'text_encoder.')) for k in sd):
        return 'transformers'
    if 'visual_encoder.patch_embed.proj.weight' in sd:
        return 'salesforce'
    if any(k.startswith(('visual_encoder.patch_embed.projection.', 'vision_backbone.patch_embed.projection.'))
           for k in sd) and any('.bert.' in k or k.startswith('text_backbone.') for k in sd):
        return 'mmpretrain'
    return None


def _vision(sd: StateDict, layout: str, prefix: str) -> StateDict:
    out = {}
    src = 'vision_model.' if layout == 'transformers' else 'visual_encoder.'
    for k, v in sd.items():
        if not k.startswith(src):
            continue
        name = k[len(src):]
        if layout == 'transformers':
            for pat, rep in _HF_VISION:
                name = re.sub(pat, rep, name)
        else:
            name = timm_vit_name(name)
        out[prefix + name] = v
    return out


def _text(sd: StateDict, parts: dict[str, str]) -> StateDict:
    out = {}
    for k, v in sd.items():
        for src, dst in parts.items():
            if k == src or (src.endswith('.') and k.startswith(src)):
                out[dst + k[len(src):]] = v
    return out


@register_converter('blip')
def convert_blip(sd: StateDict, model: nn.Module) -> StateDict | None:
    """Salesforce / transformers / MMPretrain BLIP checkpoints -> the fovea BLIP model they fit."""
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    layout = blip_layout(sd)
    name = type(model).__name__
    if layout is None or not name.startswith('Blip') or (layout != 'mmpretrain' and name not in TEXT_PARTS):
        return None
    sd = {k: v for k, v in sd.items() if not _MOMENTUM.match(k) and k not in _QUEUES
          and not k.endswith('position_ids')}
    if layout == 'mmpretrain':
        return sd
    out = _vision(sd, layout, VISION_PREFIX.get(name, DEFAULT_VISION_PREFIX))
    out.update(_text(sd, TEXT_PARTS[name]))
    if name == 'BlipRetrieval' and 'temp' in out:
        out['head.temp'] = out['temp']
    decoder = [k[:-len('bert.embeddings.word_embeddings.weight')] for k in out
               if k.endswith('bert.embeddings.word_embeddings.weight')]
    for d in decoder:     # output projection tied to the word embeddings (transformers may save it once)
        out.setdefault(d + 'cls.predictions.decoder.weight', out[d + 'bert.embeddings.word_embeddings.weight'])
        if d + 'cls.predictions.bias' in out:
            out.setdefault(d + 'cls.predictions.decoder.bias', out[d + 'cls.predictions.bias'])
    for k, v in list(out.items()):
        if k.endswith('cls_token') and v.dim() == 2:
            out[k] = v.reshape(1, 1, -1)
    return out

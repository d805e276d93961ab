"""Weight converter for Swin Transformer V1 and V2: timm (and the original Microsoft release, same names) -> fovea.

fovea keeps MMPretrain's layout, whose PatchMerging concatenates the 2x2 neighbourhood in
(C, kh, kw) order (``nn.Unfold``) where the original code concatenates [x(0,0), x(1,0), x(0,1),
x(1,1)] channel blocks; the reduction weights and norm of each merging layer are permuted here (V2
normalises after the reduction: its norm keeps its order). V2's merging layers open their stage, in timm as in
fovea; its final ``norm`` is fovea's last ``norm{i}``.
MMPretrain checkpoints go through :func:`fovea.convert.vision_transformer.convert_mmpretrain_transformer`.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from fovea.convert._targets import locate
from fovea.convert.vision_transformer import target_prefixes
from fovea.models.backbones.swin_transformer import SwinTransformer
from fovea.models.backbones.swin_transformer_v2 import SwinTransformerV2
from fovea.models.weights import register_converter

__all__ = ['convert_timm_swin', 'merging_to_unfold_order']


def merging_to_unfold_order(t: torch.Tensor) -> torch.Tensor:
    """Reorder the 4C input features of a patch-merging weight (out, 4C) or norm vector (4C,) from
    the original [kw][kh][C] block order to nn.Unfold's C-major (C, kh, kw) order."""
    if t.ndim == 1:
        return t.reshape(2, 2, -1).permute(2, 1, 0).reshape(-1)
    out = t.shape[0]
    return t.reshape(out, 2, 2, -1).permute(0, 3, 2, 1).reshape(out, -1)


_BLOCK = [
    (r'\.attn\.(qkv|proj|relative_position_bias_table|q_bias|v_bias|logit_scale|cpb_mlp)', r'.attn.w_msa.\1'),
    (r'\.mlp\.fc1\.', '.ffn.layers.0.0.'),
    (r'\.mlp\.fc2\.', '.ffn.layers.1.'),
]


@register_converter('timm')
def convert_timm_swin(sd: dict, model: nn.Module) -> dict | None:
    """timm ``swin_*`` / ``swinv2_*`` (0.9+ and older layouts) and Microsoft's Swin checkpoints -> fovea."""
    if 'layers.0.blocks.0.attn.qkv.weight' not in sd or 'patch_embed.proj.weight' not in sd:
        return None
    found = locate(model, SwinTransformer)
    v2 = 'layers.0.blocks.0.attn.logit_scale' in sd
    if found is None or v2 != isinstance(found[0], SwinTransformerV2):
        return None
    model_keys = set(model.state_dict())
    bb, head = target_prefixes(model)
    # timm >= 0.9 puts each merging layer at the start of the next stage (where V2 has it in fovea too)
    merge_shift = 1 if not v2 and any(k.startswith('layers.1.downsample.') for k in sd) and \
        not any(k.startswith('layers.0.downsample.') for k in sd) else 0
    norms = sorted(int(m.group(1)) for k in model_keys if (m := re.match(rf'^{re.escape(bb)}norm(\d+)\.weight$', k)))
    out = {}
    for k, v in sd.items():
        if k.endswith(('relative_position_index', 'attn_mask', 'relative_coords_table')):
            continue
        if k.startswith('head.'):
            rest = k[len('head.'):]
            rest = rest[len('fc.'):] if rest.startswith('fc.') else rest
            if head is not None and f'{head}fc.weight' in model_keys:
                out[f'{head}fc.{rest}'] = v
            continue
        if k.startswith('norm.'):
            if norms:
                out[f'{bb}norm{norms[-1]}.{k[len("norm."):]}'] = v
            continue
        new = k.replace('patch_embed.proj.', 'patch_embed.projection.')
        m = re.match(r'^layers\.(\d+)\.downsample\.(.*)$', new)
        if m:
            new = f'stages.{int(m.group(1)) - merge_shift}.downsample.{m.group(2)}'
            if not (v2 and m.group(2).startswith('norm.')):
                v = merging_to_unfold_order(v)
        else:
            new = re.sub(r'^layers\.', 'stages.', new)
            for pat, rep in _BLOCK:
                new = re.sub(pat, rep, new)
        out[bb + new] = v
    return out

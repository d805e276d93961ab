"""fovea CLIP model configs from open_clip's model-config shapes (``embed_dim``, ``vision_cfg``,
``text_cfg`` of its ``model_configs/*.json``), for the architectures OpenAI and open_clip publish.

``clip_model_cfg('ViT-B-32', quick_gelu=True)`` is the config OpenAI's ViT-B/32 weights need;
``clip_model_cfg(json.load(open('my_model.json')))`` reads any open_clip config of these shapes.
"""
from __future__ import annotations

from typing import Any

from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['CLIP_ARCHS', 'clip_model_cfg']

_TEXT_B = dict(context_length=77, vocab_size=49408, width=512, heads=8, layers=12)
_TEXT_L = dict(context_length=77, vocab_size=49408, width=768, heads=12, layers=12)

#: open_clip's shapes of the published CLIP architectures
CLIP_ARCHS: dict[str, dict[str, Any]] = {
    'ViT-B-32': dict(embed_dim=512, vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=32), text_cfg=_TEXT_B),
    'ViT-B-16': dict(embed_dim=512, vision_cfg=dict(image_size=224, layers=12, width=768, patch_size=16), text_cfg=_TEXT_B),
    'ViT-L-14': dict(embed_dim=768, vision_cfg=dict(image_size=224, layers=24, width=1024, patch_size=14),
                     text_cfg=_TEXT_L),
    'ViT-L-14-336': dict(embed_dim=768, vision_cfg=dict(image_size=336, layers=24, width=1024, patch_size=14),
                         text_cfg=_TEXT_L),
    'RN50': dict(embed_dim=1024, vision_cfg=dict(image_size=224, layers=[3, 4, 6, 3], width=64), text_cfg=_TEXT_B),
    'RN101': dict(embed_dim=512, vision_cfg=dict(image_size=224, layers=[3, 4, 23, 3], width=64), text_cfg=_TEXT_B),
    'RN50x4': dict(embed_dim=640, vision_cfg=dict(image_size=288, layers=[4, 6, 10, 6], width=80),
                   text_cfg=dict(_TEXT_B, width=640, heads=10)),
}


def clip_model_cfg(arch: str | dict, quick_gelu: bool = False, **overrides: Any) -> dict:
    """A fovea ``CLIP`` model config for an open_clip architecture name or config dict.

    Args:
        arch: a name of :data:`CLIP_ARCHS` ('-quickgelu' suffix allowed) or an open_clip config dict.
        quick_gelu: QuickGELU activations (OpenAI's weights and open_clip's ``*-quickgelu`` models);
            open_clip's default is GELU.
        overrides: top-level CLIP arguments (``text_prototype``, ``loss``, ``lock_image``...).
    """
    if isinstance(arch, str):
        name = arch
        if name.endswith('-quickgelu'):
            name, quick_gelu = name[:-len('-quickgelu')], True
        if name not in CLIP_ARCHS:
            raise ConfigError(f'Unknown CLIP architecture {arch!r}.{did_you_mean(name, CLIP_ARCHS)} '
                              f'Known: {", ".join(CLIP_ARCHS)}, or pass an open_clip model-config dict.')
        arch = CLIP_ARCHS[name]
    arch = dict(arch)
    quick_gelu = quick_gelu or bool(arch.get('quick_gelu'))
    embed, vision, text = arch['embed_dim'], dict(arch['vision_cfg']), dict(arch['text_cfg'])
    act = dict(type='QuickGELU' if quick_gelu else 'GELU')
    width, layers, size = vision['width'], vision['layers'], vision.get('image_size', 224)
    head_width = vision.get('head_width', 64)
    mlp_ratio = vision.get('mlp_ratio', 4.0)
    if isinstance(layers, (list, tuple)):
        visual = dict(type='ModifiedResNet', layers=list(layers), output_dim=embed, heads=width * 32 // head_width,
                      image_size=size, width=width)
        projection = None
    else:
        visual = dict(type='VisionTransformer',
                      arch=dict(embed_dims=width, num_layers=layers, num_heads=width // head_width,
                                feedforward_channels=int(width * mlp_ratio)),
                      img_size=size, patch_size=vision['patch_size'], pre_norm=True,
                      norm_cfg=dict(type='LN', eps=1e-5), layer_cfgs=dict(act_cfg=act))
        projection = dict(type='CLIPProjection', in_channels=width, out_channels=embed)
    cfg = dict(type='CLIP', vision_backbone=visual, projection=projection,
               text_backbone=dict(type='CLIPTransformer', width=text['width'], layers=text['layers'],
                                  heads=text['heads'], mlp_ratio=text.get('mlp_ratio', 4.0), act_cfg=act),
               vocab_size=text.get('vocab_size', 49408), transformer_width=text['width'], proj_dim=embed,
               context_length=text.get('context_length', 77),
               data_preprocessor=dict(mean=[122.770938, 116.7460125, 104.09373615],
                                      std=[68.5005327, 66.6321579, 70.32316305], to_rgb=False))
    cfg.update(overrides)
    return cfg

"""Small CLIP configs for tests (2-layer towers, 32 px)."""
from __future__ import annotations

from fovea.apis.model import build_model_from_cfg
from fovea.models.multimodal.clip.archs import clip_model_cfg

#: open_clip model-config shapes of tiny ViT and ResNet CLIPs
TINY_VIT = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8, head_width=32),
                text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2))
TINY_RN = dict(embed_dim=32, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=16, head_width=32),
               text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2))


def tiny_clip(arch: dict = TINY_VIT, quick_gelu: bool = False, **overrides):
    return build_model_from_cfg(clip_model_cfg(arch, quick_gelu=quick_gelu, **overrides))

"""EVA (Fang et al., "EVA: Exploring the Limits of Masked Visual Representation Learning at Scale",
CVPR 2023), MMPretrain's MAE-style variant: an MAE encoder-decoder whose decoder regresses, for the
masked patches, the patch features of a frozen CLIP image tower (cosine similarity). MMPretrain's
``EVA`` and ``CLIPGenerator`` names.
"""
from __future__ import annotations

import torch

from fovea.models.base import BaseModule
from fovea.models.multimodal.clip.archs import clip_model_cfg
from fovea.models.selfsup.mae import MAE
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['EVA', 'CLIPGenerator']


@MODELS.register_module()
class CLIPGenerator(BaseModule):
    """A frozen CLIP model whose image tower gives target features: ``forward(x)`` -> (B, 1 + N, D),
    every token after the final norm and the image projection (MMPretrain's first output; its
    second, the last layer's attention map, is not computed).

    Args:
        tokenizer_path: CLIP weights (a path or URL: MMPretrain's ``clip_vit_base_16.pth.tar``, OpenAI's
            or open_clip's checkpoints), loaded by ``init_weights``; None keeps random weights.
        arch: the CLIP architecture (:data:`fovea.models.multimodal.clip.archs.CLIP_ARCHS` name or an
            open_clip config dict); MMPretrain reads it from the checkpoint, fovea builds it first so that
            configs build offline. Defaults to 'ViT-B-16'.
        quick_gelu: QuickGELU activations (OpenAI's weights). Defaults to True.
    """

    def __init__(self, tokenizer_path: str | None = None, arch: str | dict = 'ViT-B-16', quick_gelu: bool = True,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.tokenizer_path = tokenizer_path
        cfg = clip_model_cfg(arch, quick_gelu=quick_gelu)
        if cfg['vision_backbone']['type'] != 'VisionTransformer':
            raise ConfigError(f'CLIPGenerator needs a ViT image tower (patch features); {arch!r} is a ResNet.')
        cfg['vision_backbone']['out_type'] = 'raw'
        if tokenizer_path:
            cfg['init_cfg'] = dict(type='Pretrained', checkpoint=tokenizer_path)
        self.tokenizer = MODELS.build(cfg, key='tokenizer')
        for p in self.tokenizer.parameters():
            p.requires_grad = False

    def train(self, mode: bool = True) -> 'CLIPGenerator':
        super().train(mode)
        self.tokenizer.eval()           # a fixed target
        return self

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer.visual(x)[-1]
        return self.tokenizer.visual_proj(tokens)[0]


@MODELS.register_module()
class EVA(MAE):
    """MAE whose head (``MIMHead`` with ``CosineSimilarityLoss``) scores the decoder's masked-patch
    predictions against the ``CLIPGenerator``'s patch features of the whole image."""

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            return super().loss(inputs)                       # MAE's clear error for multi-view input
        with torch.no_grad():
            target = self.target_generator(inputs)
        if isinstance(target, (tuple, list)):                 # MMPretrain-style (features, attention)
            target = target[0]
        _, mask, pred = self.reconstruct(inputs)
        return dict(loss=self.head.loss(pred, target[:, 1:], mask))


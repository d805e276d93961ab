"""EVA (Fang et al., "EVA: Exploring the Limits of Masked Visual Representation Learning at Scale",
CVPR 2023), MMPretrain's MAE-style variant: an MAE encoder-decoder whose decoder regresses, for the
masked patches, the patch features of a frozen CLIP image tower (cosine similarity). MMPretrain's
``EVA`` and ``CLIPGenerator`` names.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.multimodal.clip.archs import clip_model_cfg
from fovea.models.selfsup.mae import MAE
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['EVA', 'CLIPGenerator']


@MODELS.register_module()
class CLIPGenerator(BaseModule):
    """A frozen CLIP model whose image tower gives targets: ``forward(x)`` -> ``(features, attention)``,
    every token after the final norm and the image projection (B, 1 + N, D), and the last layer's
    attention weights averaged over heads (B, 1 + N, 1 + N; MILAN's patch importance), as MMPretrain's.

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
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        vit = self.tokenizer.visual
        tokens, hw = vit.patch_embed(x)
        tokens = vit._embed_tokens(tokens, hw)
        for layer in vit.layers[:-1]:
            tokens = layer(tokens)
        last = vit.layers[-1]
        attention = _attention_weights(last.attn, last.ln1(tokens))
        tokens = last(tokens)
        if vit.final_norm:
            tokens = vit.ln1(tokens)
        return self.tokenizer.visual_proj(tokens)[0], attention


def _attention_weights(attn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The softmax attention weights of a :class:`~fovea.models.layers.transformer.MultiheadAttention`
    on ``x``, averaged over heads: (B, N, N)."""
    B, N, _ = x.shape
    q, k, _ = attn.qkv(x).reshape(B, N, 3, attn.num_heads, attn.head_dims).permute(2, 0, 3, 1, 4).unbind(0)
    scale = attn.scale if attn.scale is not None else attn.head_dims ** -0.5
    return ((q * scale) @ k.transpose(-2, -1)).softmax(-1).mean(1)


@MODELS.register_module()
class EVA(MAE):
    """MAE whose head (``MIMHead`` with ``CosineSimilarityLoss``) scores the decoder's masked-patch
    predictions against the ``CLIPGenerator``'s patch features of the whole image."""

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            return super().loss(inputs)                       # MAE's clear error for multi-view input
        with torch.no_grad():
            target, _ = self.target_generator(inputs)
        _, mask, pred = self.reconstruct(inputs)
        return dict(loss=self.head.loss(pred, target[:, 1:], mask))


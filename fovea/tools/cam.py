"""Class activation maps (Grad-CAM and relatives) for CNNs and vision transformers, via the grad-cam library.

For CNNs the default target layer is the last backbone module whose output is a feature map
with more than one position (the last stage for ResNet-like models; for LeNet-5 on 32x32
input, whose last map is 1x1, the last pooled 5x5 map). For transformers (ViT, DeiT, Swin),
whose layers output tokens (B, N, C), the default is the first norm of the last block and the
tokens are reshaped to a (B, C, h, w) map, dropping class/distillation tokens.

Methods: gradcam, gradcam++, xgradcam, eigencam, eigengradcam, layercam, scorecam, ablationcam,
hirescam.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from fovea.utils.errors import ConfigError, did_you_mean, require

__all__ = ['CAM_METHODS', 'get_layer', 'default_target_layers', 'reshape_tokens', 'class_activation_map']

CAM_METHODS = {
    'gradcam': 'GradCAM', 'gradcam++': 'GradCAMPlusPlus', 'xgradcam': 'XGradCAM', 'eigencam': 'EigenCAM',
    'eigengradcam': 'EigenGradCAM', 'layercam': 'LayerCAM', 'scorecam': 'ScoreCAM', 'ablationcam': 'AblationCAM',
    'hirescam': 'HiResCAM',
}


class _Logits(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x, mode='tensor')
        return out[-1] if isinstance(out, (tuple, list)) else out


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """A sub-module by name: ``'backbone.layer4'``, ``'backbone.layers.-1.ln1'`` or ``'backbone.layers[-1].ln1'``."""
    parts = [p for p in re.split(r'\.|\[|\]', name) if p]
    mod: Any = model
    for i, p in enumerate(parts):
        if re.fullmatch(r'-?\d+', p) and isinstance(mod, (nn.Sequential, nn.ModuleList)):
            idx = int(p)
            if not -len(mod) <= idx < len(mod):
                raise ConfigError(f'target layer {name!r}: index {idx} is out of range for '
                                  f'{".".join(parts[:i]) or "model"} with {len(mod)} entries')
            mod = mod[idx]
        elif hasattr(mod, p) and isinstance(getattr(mod, p), nn.Module):
            mod = getattr(mod, p)
        else:
            children = [n for n, _ in mod.named_children()]
            raise ConfigError(f'target layer {name!r}: {".".join(parts[:i]) or "the model"} has no sub-module '
                              f'{p!r}.{did_you_mean(p, children)} Its children: {children}')
    return mod


@torch.no_grad()
def _output_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple]]:
    """(name, output shape) of every backbone module, in execution order."""
    seen: list[tuple[str, tuple]] = []
    hooks = []
    for name, mod in model.backbone.named_modules(prefix='backbone'):
        def hook(m, inp, out, name=name):
            if isinstance(out, torch.Tensor):
                seen.append((name, tuple(out.shape)))
        hooks.append(mod.register_forward_hook(hook))
    try:
        model(x, mode='tensor')
    finally:
        for h in hooks:
            h.remove()
    return seen


def _token_grid(n: int) -> tuple[int, int] | None:
    """(extra tokens, side) with n - extra a perfect square, trying 0, 1 and 2 extra tokens."""
    for extra in (0, 1, 2):
        side = math.isqrt(n - extra)
        if n - extra > 1 and side * side == n - extra:
            return extra, side
    return None


def default_target_layers(model: nn.Module, x: torch.Tensor) -> tuple[list[str], bool]:
    """Default layer names and whether the model is a transformer (token outputs)."""
    if not hasattr(model, 'backbone'):
        raise ConfigError(f'{type(model).__name__} has no backbone; pass --target-layers explicitly')
    layers = getattr(model.backbone, 'layers', None)
    if isinstance(layers, (nn.ModuleList, nn.Sequential)) and len(layers) and hasattr(layers[-1], 'ln1'):
        return ['backbone.layers.-1.ln1'], True  # ViT/DeiT blocks (MMPretrain names)
    stages = getattr(model.backbone, 'stages', None)
    if isinstance(stages, (nn.ModuleList, nn.Sequential)) and len(stages) and hasattr(stages[-1], 'blocks'):
        blocks = stages[-1].blocks
        if len(blocks) and hasattr(blocks[-1], 'norm1'):
            return [f'backbone.stages.-1.blocks.-1.norm1'], True  # Swin blocks
    shapes = _output_shapes(model, x)
    maps = [(n, s) for n, s in shapes if len(s) == 4 and s[2] * s[3] > 1]
    if maps:
        return [maps[-1][0]], False
    tokens = [(n, s) for n, s in shapes if len(s) == 3 and _token_grid(s[1])]
    if tokens:
        return [tokens[-1][0]], True
    raise ConfigError('found no backbone layer with a spatial feature map or a square token grid; '
                      'pass --target-layers')


def reshape_tokens(t: torch.Tensor) -> torch.Tensor:
    """(B, N, C) tokens -> (B, C, h, w), dropping leading class/distillation tokens; maps pass through."""
    if t.ndim == 4:
        # Swin-style (B, H, W, C) maps come channels-last; CNN maps (B, C, H, W) pass through
        return t.permute(0, 3, 1, 2) if t.shape[1] == t.shape[2] and t.shape[3] != t.shape[1] else t
    if t.ndim != 3:
        raise ValueError(f'cannot reshape a {t.ndim}-D activation into a feature map')
    grid = _token_grid(t.shape[1])
    if grid is None:
        raise ValueError(f'{t.shape[1]} tokens do not form a square grid (with 0-2 extra tokens)')
    extra, side = grid
    return t[:, extra:].reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)


def class_activation_map(model: nn.Module, inputs: torch.Tensor, method: str = 'gradcam',
                         target_layers: Sequence[str] | None = None, target_category: int | None = None,
                         aug_smooth: bool = False, eigen_smooth: bool = False,
                         vit_like: bool | None = None) -> dict:
    """A class activation map of one preprocessed image.

    Args:
        model: a classifier (``mode='tensor'`` gives logits).
        inputs: (1, C, H, W) normalised input, as the data preprocessor makes it.
        method: one of :data:`CAM_METHODS`.
        target_layers: module names (default: :func:`default_target_layers`).
        target_category: class to explain (default: the predicted class).
        vit_like: reshape token outputs (default: detected).

    Returns ``dict(cam=(H, W) float32 in [0, 1], target_category, target_layers, scores)``.
    """
    gc = require('pytorch_grad_cam', 'tools', 'class activation maps (pip install grad-cam)')
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    key = method.lower()
    if key not in CAM_METHODS:
        raise ConfigError(f'unknown CAM method {method!r}.{did_you_mean(key, CAM_METHODS)} '
                          f'Choose from {sorted(CAM_METHODS)}.')
    model = model.eval()
    if inputs.ndim != 4 or inputs.shape[0] != 1:
        raise ValueError(f'class_activation_map takes one image (1, C, H, W), got {tuple(inputs.shape)}')
    if target_layers is None:
        target_layers, detected = default_target_layers(model, inputs)
        vit_like = detected if vit_like is None else vit_like
    layers = [get_layer(model, n) for n in target_layers]
    if vit_like is None:  # token outputs (B, N, C) need reshaping into maps
        dims: list[int] = []
        hooks = [m.register_forward_hook(lambda m, i, o: dims.append(o.ndim if isinstance(o, torch.Tensor) else 0))
                 for m in layers]
        try:
            with torch.no_grad():
                model(inputs, mode='tensor')
        finally:
            for h in hooks:
                h.remove()
        vit_like = any(d == 3 for d in dims)
    wrapper = _Logits(model)
    with torch.no_grad():
        scores = wrapper(inputs).softmax(-1)[0]
    category = int(scores.argmax()) if target_category is None else int(target_category)
    if not 0 <= category < scores.numel():
        raise ConfigError(f'target category {category} is out of range: the model has {scores.numel()} classes')
    cam_cls = getattr(gc, CAM_METHODS[key])
    kwargs = dict(model=wrapper, target_layers=layers)
    if vit_like:
        kwargs['reshape_transform'] = reshape_tokens
    with cam_cls(**kwargs) as cam:
        if key == 'scorecam':
            cam.batch_size = 16
        grayscale = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(category)], aug_smooth=aug_smooth,
                        eigen_smooth=eigen_smooth)
    return dict(cam=np.asarray(grayscale[0], dtype=np.float32), target_category=category,
                target_layers=list(target_layers), scores=scores.cpu().numpy(), vit_like=bool(vit_like))

"""MFF (Liu et al., "Improving Pixel-based MIM by Reducing Wasted Modeling Capability", ICCV 2023):
MAE whose decoder reads a learned softmax-weighted sum of several encoder layers' tokens (each but the
last through a linear projection) instead of the last layer's alone. MMPretrain's ``MFFViT`` / ``MFF``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.selfsup.mae import MAE, MAEViT
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['MFFViT', 'MFF']


@MODELS.register_module()
class MFFViT(MAEViT):
    """:class:`MAEViT` fusing the ``out_indices`` layers (``proj_layers``, ``proj_weights``).

    ``forward(x, mask=True)`` returns ``(latent, mask, ids_restore, weights)``, ``weights`` the
    softmaxed fusion weights, one per fused layer; ``forward(x, mask=None)`` is the plain ViT.
    """

    def __init__(self, arch: str | dict = 'b', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0, drop_path_rate: float = 0,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = True, out_type: str = 'raw',
                 interpolate_mode: str = 'bicubic', patch_cfg: dict | None = None,
                 layer_cfgs: dict | Sequence[dict] | None = None, mask_ratio: float = 0.75,
                 init_cfg: dict | list | None = None):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, out_indices=out_indices,
                         drop_rate=drop_rate, drop_path_rate=drop_path_rate, norm_cfg=norm_cfg, final_norm=final_norm,
                         out_type=out_type, interpolate_mode=interpolate_mode, patch_cfg=patch_cfg,
                         layer_cfgs=layer_cfgs, mask_ratio=mask_ratio, init_cfg=init_cfg)
        if not final_norm:
            raise ConfigError('MFFViT normalises the fused tokens with the final norm: keep final_norm=True.')
        self.proj_layers = nn.ModuleList(nn.Linear(self.embed_dims, self.embed_dims)
                                         for _ in range(len(self.out_indices) - 1))
        self.proj_weights = nn.Parameter(torch.ones(len(self.out_indices)).view(-1, 1, 1, 1),
                                         requires_grad=len(self.out_indices) > 1)

    def fusion_weights(self) -> torch.Tensor:
        return F.softmax(self.proj_weights, dim=0)

    def _encode_tokens(self, x: torch.Tensor) -> torch.Tensor:
        fused = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                j = self.out_indices.index(i)
                fused.append(self.proj_layers[j](x) if j < len(self.proj_layers) else x)
        return self.ln1((torch.stack(fused) * self.fusion_weights()).sum(0))

    def forward(self, x: torch.Tensor, mask: bool | None = True):
        if not mask:
            return super().forward(x, mask)
        return (*super().forward(x, True), self.fusion_weights().view(-1))


@MODELS.register_module()
class MFF(MAE):
    """MAE with an :class:`MFFViT` encoder; logs the fusion weights as ``weight_i`` beside ``loss``."""

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            return super().loss(inputs)                       # MAE's clear error for multi-view input
        latent, mask, ids_restore, weights = self.backbone(inputs)
        losses = dict(loss=self.head.loss(self.neck(latent, ids_restore), inputs, mask))
        losses.update({f'weight_{i}': w.detach() for i, w in enumerate(weights)})
        return losses

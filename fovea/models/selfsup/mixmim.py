"""MixMIM pre-training (Liu et al., CVPR 2023): two images are mixed patch-wise (a random half of the
coarsest cells from one, the rest from the batch's mirror image), the encoder attends within each
image's patches only, and the decoder reconstructs both images from the mixture. MMPretrain's
``MixMIM``, ``MixMIMPretrainTransformer`` names and arguments.
"""
from __future__ import annotations

import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.mixmim import MixMIMTransformer
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['MixMIM', 'MixMIMPretrainTransformer']


@MODELS.register_module()
class MixMIMPretrainTransformer(MixMIMTransformer):
    """:class:`MixMIMTransformer` with MixMIM's masking: ``forward(x, mask=True)`` -> ``(tokens (B, L, C),
    mask (1, L, 1))`` where 1 marks the cells taken from the mirrored batch (``x.flip(0)``);
    ``mask=None`` is the plain backbone. Args: the backbone's, ``mask_ratio`` (0.5) and
    ``range_mask_ratio`` (0: a uniform extra ratio drawn per step)."""

    def __init__(self, arch: str | dict = 'base', mlp_ratio: float = 4, img_size: int = 224, patch_size: int = 4,
                 in_channels: int = 3, window_size: Sequence[int] = (14, 14, 14, 7), qkv_bias: bool = True,
                 patch_cfg: dict | None = None, norm_cfg: dict = dict(type='LN'), drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, attn_drop_rate: float = 0.0, use_checkpoint: bool = False,
                 mask_ratio: float = 0.5, range_mask_ratio: float = 0.0, init_cfg: dict | list | None = None):
        super().__init__(arch=arch, mlp_ratio=mlp_ratio, img_size=img_size, patch_size=patch_size,
                         in_channels=in_channels, window_size=window_size, qkv_bias=qkv_bias, patch_cfg=patch_cfg,
                         norm_cfg=norm_cfg, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                         attn_drop_rate=attn_drop_rate, use_checkpoint=use_checkpoint, init_cfg=init_cfg)
        self.mask_ratio, self.range_mask_ratio = mask_ratio, range_mask_ratio

    def init_weights(self) -> None:
        super().init_weights()
        with torch.no_grad():
            self.absolute_pos_embed.copy_(build_2d_sincos_position_embedding(
                int(self.num_patches ** .5), self.absolute_pos_embed.shape[-1], cls_token=False))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.zeros_(m.bias)
                nn.init.ones_(m.weight)

    def random_masking(self, x: torch.Tensor, mask_ratio: float = 0.5) -> tuple[torch.Tensor, ...]:
        """The mixing mask at the four stages' resolutions, each (1, h*w, 1), one for the whole batch."""
        H, W = x.shape[-2] // self.encoder_stride, x.shape[-1] // self.encoder_stride
        seq_l = H * W
        ratio = mask_ratio + random.uniform(0.0, self.range_mask_ratio)
        idx = torch.argsort(torch.rand(1, 1, seq_l, device=x.device), dim=2)[:, :, :int(seq_l * ratio)]
        mask = torch.zeros(1, 1, seq_l, device=x.device).scatter_(2, idx, 1).reshape(1, 1, H, W)
        out = [F.interpolate(mask, size=(H * s, W * s), mode='nearest').reshape(1, -1, 1) for s in (8, 4, 2)]
        return (*out, mask.reshape(1, seq_l, 1))

    def forward(self, x: torch.Tensor, mask: bool | None = True):
        if not mask:
            return super().forward(x)
        masks = self.random_masking(x, self.mask_ratio)
        x, _ = self.patch_embed(x)
        x = x * (1. - masks[0]) + x.flip(0) * masks[0]
        x = self.drop_after_pos(x + self.absolute_pos_embed)
        for layer, m in zip(self.layers, masks):
            x = layer(x, attn_mask=m)
        return self.norm(x), masks[-1]


@MODELS.register_module()
class MixMIM(BaseSelfSupervisor):
    """Mixed-image encoder, ``MixMIMPretrainDecoder`` (both images' tokens from the mixture),
    ``MixMIMPretrainHead`` (each image's pixels from its own decoded half). The head's patch size is
    the neck's ``encoder_stride`` (set here, as MMPretrain)."""

    def __init__(self, backbone: dict, neck: dict | None = None, head: dict | None = None,
                 pretrained: str | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        if not isinstance(neck, dict) or not isinstance(head, dict):
            raise ConfigError('MixMIM needs neck and head configs (MixMIMPretrainDecoder, MixMIMPretrainHead).')
        head = dict(head, patch_size=neck.get('encoder_stride', 32))
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            raise ConfigError('MixMIM takes one view per image, the pipeline gives a list of views: remove '
                              'MultiView from train_dataloader.dataset.pipeline.')
        latent, mask = self.backbone(inputs)
        return dict(loss=self.head.loss(self.neck(latent, mask), inputs, mask))

"""DeiT with a distillation token (Touvron et al., "Training data-efficient image transformers &
distillation through attention", ICML 2021).

The distillation token is a second learned token, next to the class token, that is trained to
reproduce a teacher's predictions; :class:`~fovea.models.heads.DeiTClsHead` reads both.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.registry import MODELS

__all__ = ['DistilledVisionTransformer']


@MODELS.register_module()
class DistilledVisionTransformer(VisionTransformer):
    """ViT with class and distillation tokens (DeiT "⚗" models).

    Takes :class:`VisionTransformer`'s arguments (``arch`` defaults to 'deit-base'). With
    ``out_type='cls_token'`` each output is the pair ``(cls_token, dist_token)``.
    """

    num_extra_tokens = 2  # class + distillation tokens

    def __init__(self, arch: str | dict = 'deit-base', *args, **kwargs):
        kwargs['with_cls_token'] = True
        super().__init__(arch, *args, **kwargs)
        self.dist_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        if self.frozen_stages > 0:
            self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            nn.init.trunc_normal_(self.dist_token, std=0.02)

    def _extra_tokens(self, B: int) -> list[torch.Tensor]:
        return [self.cls_token.expand(B, -1, -1), self.dist_token.expand(B, -1, -1)]

    def _format_output(self, x: torch.Tensor, hw: tuple[int, int]):
        if self.out_type == 'cls_token':
            return x[:, 0], x[:, 1]
        return super()._format_output(x, hw)

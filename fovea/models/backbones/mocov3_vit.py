"""The Vision Transformer of MoCo v3 (Chen et al., "An Empirical Study of Training Self-Supervised
Vision Transformers", ICCV 2021), with MMPretrain's name ``MoCoV3ViT`` and arguments.

A :class:`VisionTransformer` with a fixed 2D sin-cos position embedding, MoCo v3's initialisation
(uniform Xavier patch projection, Q/K/V initialised as three separate matrices, class token
N(0, 1e-6)) and ``stop_grad_conv1``: the random patch projection is never trained, the trick that
keeps MoCo v3's ViT training stable. Its state-dict names are the ViT's.
"""
from __future__ import annotations

import math

from torch import nn

from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.registry import MODELS

__all__ = ['MoCoV3ViT']


@MODELS.register_module()
class MoCoV3ViT(VisionTransformer):
    """ViT for MoCo v3 pretraining (and its linear probe).

    Args:
        stop_grad_conv1: freeze the patch projection (``patch_embed.projection``) at its random init.
        frozen_stages: -1 freezes nothing; 0 the patch embedding, class token and position
            embedding; N >= 1 also the first N layers (and the final norm when N is the depth).
        norm_eval: batch norms in eval mode while training.
        **kwargs: :class:`VisionTransformer`'s arguments; ``arch`` also takes 'mocov3-small' /
            'mocov3-s' (384 wide, 12 layers, 12 heads).

    Unless ``init_cfg`` loads a checkpoint, the position embedding is the fixed sin-cos table and
    is not trained (``requires_grad=False``).
    """

    arch_zoo = {
        **VisionTransformer.arch_zoo,
        **dict.fromkeys(['mocov3-s', 'mocov3-small'],
                        dict(embed_dims=384, num_layers=12, num_heads=12, feedforward_channels=1536)),
    }

    def __init__(self, stop_grad_conv1: bool = False, frozen_stages: int = -1, norm_eval: bool = False,
                 init_cfg: dict | list | None = None, **kwargs):
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.patch_size = kwargs.get('patch_size', 16)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.stop_grad_conv1 = stop_grad_conv1
        if stop_grad_conv1:
            self.patch_embed.projection.requires_grad_(False)
        if not self._loads_checkpoint():
            self._fix_position_embedding()
        self._freeze_stages()

    def _loads_checkpoint(self) -> bool:
        return isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'

    def _fix_position_embedding(self) -> None:
        table = build_2d_sincos_position_embedding(self.patch_resolution, self.embed_dims,
                                                   cls_token=self.with_cls_token)
        self.pos_embed.data.copy_(table.to(self.pos_embed.device))
        self.pos_embed.requires_grad = False

    def init_weights(self) -> None:
        super().init_weights()
        if self._loads_checkpoint():
            return
        self._fix_position_embedding()
        proj = self.patch_embed.projection
        bound = math.sqrt(6. / float(proj.weight[0].numel() + self.embed_dims))   # fan-in: C x patch x patch
        nn.init.uniform_(proj.weight, -bound, bound)
        if proj.bias is not None:
            nn.init.zeros_(proj.bias)
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                if 'qkv' in name:          # Q, K and V as three (out/3, in) matrices
                    bound = math.sqrt(6. / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                    nn.init.uniform_(m.weight, -bound, bound)
                else:
                    nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)

    def _freeze_stages(self) -> None:
        if self.frozen_stages == 0:
            freeze_module(self.patch_embed)
            self.pos_embed.requires_grad = False
            if self.cls_token is not None:
                self.cls_token.requires_grad = False
        else:
            super()._freeze_stages()

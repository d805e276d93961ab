"""CAE (Chen et al., "Context Autoencoder for Self-Supervised Representation Learning", IJCV 2023).

The encoder sees only the visible patches; a regressor (cross-attention from mask queries to the
visible and masked tokens) predicts the masked patches' latent representations, which are aligned
(MSE) with a teacher encoder's representations of those patches, and a decoder turns the predicted
latents into DALL-E codes (cross-entropy). MMPretrain's names, arguments and state-dict keys
(``CAE``, ``CAEPretrainViT``, ``teacher.*``); the DALL-E target is BEiT's (:mod:`fovea.models.selfsup.beit`).

The teacher is the encoder's momentum average ``teacher = m * teacher + (1 - m) * encoder``
(``base_momentum``, 0 in MMPretrain's config: the teacher is the encoder), updated after each
optimizer step (fovea's ``after_optimizer_step``); MMPretrain updates it inside the forward from the
weights before that step's update, so with m = 0 its teacher lags the encoder by one step.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.beit import BEiTViT
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.models.selfsup.beit import stack_masks
from fovea.registry import MODELS
from fovea.structures import DataSample

__all__ = ['CAE', 'CAEPretrainViT']


@MODELS.register_module()
class CAEPretrainViT(BEiTViT):
    """BEiT's ViT with a fixed 2D sin-cos absolute position embedding, for CAE.

    :class:`BEiTViT`'s arguments with MMPretrain's CAE defaults (``arch='b'``,
    ``use_abs_pos_emb=True``, ``use_rel_pos_bias=False``, ``layer_scale_init_value=None``,
    ``final_norm=True``, ``out_type='raw'``). ``forward(x, mask)`` with a (B, N) bool mask (True =
    masked; the same count per image) encodes only the visible patches: (B, 1 + N_visible, C).
    """

    def __init__(self, arch: str | dict = 'b', img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0., drop_path_rate: float = 0.,
                 bias: bool | str = 'qv_bias', norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = True,
                 out_type: str = 'raw', frozen_stages: int = -1, use_abs_pos_emb: bool = True,
                 use_rel_pos_bias: bool = False, use_shared_rel_pos_bias: bool = False,
                 layer_scale_init_value: float | None = None, interpolate_mode: str = 'bicubic',
                 patch_cfg: dict | None = None, layer_cfgs: dict | Sequence[dict] | None = None,
                 init_cfg: dict | list | None = [
                     dict(type='Constant', val=1, layer=['LayerNorm']),
                     dict(type='TruncNormal', std=0.02, layer=['Conv2d']),
                     dict(type='Xavier', distribution='uniform', layer=['Linear'])]):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                         out_indices=out_indices, drop_rate=drop_rate, drop_path_rate=drop_path_rate, bias=bias,
                         norm_cfg=norm_cfg, final_norm=final_norm, out_type=out_type, with_cls_token=True,
                         frozen_stages=frozen_stages, use_abs_pos_emb=use_abs_pos_emb,
                         use_rel_pos_bias=use_rel_pos_bias, use_shared_rel_pos_bias=use_shared_rel_pos_bias,
                         layer_scale_init_value=layer_scale_init_value, interpolate_mode=interpolate_mode,
                         patch_cfg=patch_cfg, layer_cfgs=layer_cfgs, init_cfg=init_cfg)
        self.pos_embed.requires_grad = False
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        with torch.no_grad():
            self.pos_embed.copy_(build_2d_sincos_position_embedding(
                int(self.num_patches ** .5), self.pos_embed.shape[-1], cls_token=True))
        nn.init.trunc_normal_(self.cls_token, std=.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        if mask is None:
            return super().forward(x)
        x, _ = self.patch_embed(x)
        B, _, C = x.shape
        pos = self.pos_embed.expand(B, -1, -1)
        visible = x[~mask].reshape(B, -1, C) + pos[:, 1:][~mask].reshape(B, -1, C)
        x = self.drop_after_pos(torch.cat((self.cls_token.expand(B, -1, -1) + pos[:, :1], visible), dim=1))
        for i, layer in enumerate(self.layers):
            x = layer(x, rel_pos_bias=None)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
        return x


@MODELS.register_module()
class CAE(BaseSelfSupervisor):
    """CAE: ``CAEPretrainViT`` encoder and teacher, ``CAENeck`` (regressor + decoder), ``CAEHead``
    with ``CAELoss``, a DALL-E target generator. Two views (image, DALL-E view) and a
    ``BEiTMaskGenerator`` mask; losses ``loss`` (= ``main`` + ``align``), ``main``, ``align``.

    Args: backbone, neck, head, target_generator, base_momentum (teacher momentum, 0.0),
    data_preprocessor, init_cfg.
    """

    num_views = 2

    def __init__(self, backbone: dict, neck: dict, head: dict, target_generator: dict | None = None,
                 base_momentum: float = 0.0, data_preprocessor: dict | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, target_generator=target_generator,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.momentum = base_momentum
        self.teacher = MODELS.build(backbone, key='backbone')
        for p in self.teacher.parameters():
            p.requires_grad = False

    def init_weights(self) -> None:
        super().init_weights()
        with torch.no_grad():
            for t, s in zip(self.teacher.parameters(), self.backbone.parameters()):
                t.copy_(s)

    @torch.no_grad()
    def after_optimizer_step(self, step: int, max_steps: int | None) -> None:
        for t, s in zip(self.teacher.parameters(), self.backbone.parameters()):
            t.mul_(self.momentum).add_(s.detach(), alpha=1. - self.momentum)

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def loss(self, inputs: list[torch.Tensor], data_samples: Sequence[DataSample] | None = None,
             **kwargs) -> dict[str, torch.Tensor]:
        img, target_img = self.views(inputs)
        mask = stack_masks(data_samples, 'CAE', img.device).flatten(1)
        unmasked = self.backbone(img, mask)
        with torch.no_grad():
            latent_target = self.teacher(img, ~mask)[:, 1:]
            logits_target = self.target_generator(target_img)
        B = img.shape[0]
        pos = self.backbone.pos_embed[:, 1:].expand(B, -1, -1)
        C = pos.shape[-1]
        logits, latent_pred = self.neck(unmasked[:, 1:], pos[mask].reshape(B, -1, C), pos[~mask].reshape(B, -1, C))
        main, align = self.head.loss(logits.reshape(-1, logits.shape[-1]), logits_target, latent_pred,
                                     latent_target, mask)
        return dict(loss=main + align, main=main, align=align)

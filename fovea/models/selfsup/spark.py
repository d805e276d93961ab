"""SparK (Tian et al., ICLR 2023): BERT-style masked modelling for convolutional networks. A random
``1 - mask_ratio`` of the coarsest grid's cells stays visible; a sparse (masked) backbone encodes only
them (:mod:`fovea.models.layers.sparse`), each scale's map is normalised with the hidden cells filled by
a learned mask token and projected, and a light decoder reconstructs the hidden cells' pixels.
MMPretrain's ``SparK`` arguments and state-dict keys (``enc_dec_norms``, ``enc_dec_projectors``,
``mask_tokens``; its ``downsample_raito`` spelling kept).
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.layers.sparse import active_region, build_sparse_norm
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SparK']


@MODELS.register_module()
class SparK(BaseSelfSupervisor):
    """Args: backbone (``SparseResNet``), neck (``SparKLightDecoder``), head (``SparKPretrainHead``),
    pretrained, data_preprocessor, input_size (224), downsample_raito (32), mask_ratio (0.6),
    enc_dec_norm_cfg (``SparseSyncBatchNorm2d``), enc_dec_norm_dim (the coarsest map's width, 2048),
    init_cfg."""

    def __init__(self, backbone: dict, neck: dict, head: dict, pretrained: str | None = None,
                 data_preprocessor: dict | None = None, input_size: int = 224, downsample_raito: int = 32,
                 mask_ratio: float = 0.6, enc_dec_norm_cfg: dict = dict(type='SparseSyncBatchNorm2d'),
                 enc_dec_norm_dim: int = 2048, init_cfg: dict | list | None = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0 <= mask_ratio < 1:
            raise ConfigError(f'SparK mask_ratio must be in [0, 1), got {mask_ratio}.')
        self.input_size, self.downsample_raito, self.mask_ratio = input_size, downsample_raito, mask_ratio
        self.feature_map_size = input_size // downsample_raito
        self.len_keep = round(self.feature_map_size ** 2 * (1 - mask_ratio))
        self.enc_dec_norm_cfg = enc_dec_norm_cfg
        self.enc_dec_norms = nn.ModuleList()
        self.enc_dec_projectors = nn.ModuleList()
        self.mask_tokens = nn.ParameterList()
        dim, out_dim = enc_dec_norm_dim, self.neck.feature_dim
        for i in range(len(self.backbone.out_indices)):
            self.enc_dec_norms.append(build_sparse_norm(enc_dec_norm_cfg, dim))
            k = 1 if i == 0 else 3
            self.enc_dec_projectors.append(nn.Identity() if i == 0 and dim == out_dim else
                                           nn.Conv2d(dim, out_dim, kernel_size=k, stride=1, padding=k // 2, bias=True))
            token = nn.Parameter(torch.zeros(1, dim, 1, 1))
            nn.init.trunc_normal_(token, mean=0, std=.02, a=-.02, b=.02)
            self.mask_tokens.append(token)
            dim //= 2
            out_dim //= 2

    def mask(self, shape: torch.Size, device: torch.device | str, generator: torch.Generator | None = None
             ) -> torch.Tensor:
        """(B, 1, f, f) bool map, True = visible: ``len_keep`` random cells of each image."""
        B, f = shape[0], self.feature_map_size
        if shape[-1] != self.input_size or shape[-2] != self.input_size:
            raise ConfigError(f'SparK was built for {self.input_size} px inputs (model.input_size), the batch has '
                              f'{tuple(shape[-2:])}: crop the training images to input_size.')
        idx = torch.rand(B, f * f, generator=generator).argsort(dim=1)[:, :self.len_keep].to(device)
        return torch.zeros(B, f * f, dtype=torch.bool, device=device).scatter_(1, idx, True).view(B, 1, f, f)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        if isinstance(inputs, (list, tuple)):
            raise ConfigError('SparK takes one view per image, the pipeline gives a list of views: remove '
                              'MultiView from train_dataloader.dataset.pipeline.')
        active = self.mask(inputs.shape, inputs.device)
        r = self.downsample_raito
        with active_region(active):
            feature_maps = list(self.backbone(inputs * active.repeat_interleave(r, 2).repeat_interleave(r, 3)))
            feature_maps.reverse()
            cur, to_dec = active, []
            for i, fm in enumerate(feature_maps):
                if fm is not None:
                    fm = self.enc_dec_norms[i](fm)
                    fm = torch.where(cur.expand_as(fm), fm, self.mask_tokens[i].expand_as(fm).to(fm.dtype))
                    fm = self.enc_dec_projectors[i](fm)
                to_dec.append(fm)
                cur = cur.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        return dict(loss=self.head(self.neck(to_dec), inputs, active))

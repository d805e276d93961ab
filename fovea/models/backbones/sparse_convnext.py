"""ConvNeXt with sparse (masked) convolutions and layer norms for SparK pre-training (MMPretrain's
``SparseConvNeXt``; ConvNeXt V2 with ``use_grn=True, layer_scale_init_value=0.``)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.convnext import ConvNeXt, ConvNeXtBlock
from fovea.models.layers.conv import LayerNorm2d
from fovea.models.layers.sparse import SparseLayerNorm2D, active_map, sparsify
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SparseConvNeXt', 'SparseConvNeXtBlock']


class SparseConvNeXtBlock(ConvNeXtBlock):
    """A ConvNeXt block whose norm sees the visible positions only and whose branch is zeroed outside them."""

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.depthwise_conv(x).permute(0, 2, 3, 1)
        x = self.act(self.pointwise_conv1(self.norm(x, data_format='channel_last')))
        if self.grn is not None:
            x = self.grn(x)
        x = self.pointwise_conv2(x)
        if self.gamma is not None:
            x = x * self.gamma
        x = x.permute(0, 3, 1, 2)
        m = active_map(x.shape[2])
        return shortcut + self.drop_path(x if m is None else x * m)


@MODELS.register_module()
class SparseConvNeXt(ConvNeXt):
    """:class:`ConvNeXt` made sparse: its stage maps (or, with ``gap_before_output``, their means) are
    returned without the per-output norms ConvNeXt has (MMPretrain's ``SparseConvNeXt``). Outside a
    SparK forward it computes the dense network.

    Args: ConvNeXt's (``arch='small'``, ``norm_cfg=dict(type='SparseLN2d', eps=1e-6)``) and
    ``gap_before_output`` (True) in place of ``gap_before_final_norm``.
    """

    def __init__(self, arch: str | dict = 'small', in_channels: int = 3, stem_patch_size: int = 4,
                 norm_cfg: dict = dict(type='SparseLN2d', eps=1e-6), act_cfg: dict = dict(type='GELU'),
                 linear_pw_conv: bool = True, use_grn: bool = False, drop_path_rate: float = 0,
                 layer_scale_init_value: float = 1e-6, out_indices: int | Sequence[int] = -1,
                 frozen_stages: int = 0, gap_before_output: bool = True, with_cp: bool = False,
                 init_cfg: dict | list | None = [
                     dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
                     dict(type='Constant', layer=['LayerNorm'], val=1., bias=0.)]):
        norm_cfg = dict(norm_cfg)
        if norm_cfg.get('type') not in ('SparseLN2d', 'SparseLayerNorm2D'):
            raise ConfigError(f"SparseConvNeXt norm_cfg type must be 'SparseLN2d', got {norm_cfg.get('type')!r}.")
        norm_cfg['type'] = 'LN2d'
        super().__init__(arch=arch, in_channels=in_channels, stem_patch_size=stem_patch_size, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, linear_pw_conv=linear_pw_conv, use_grn=use_grn,
                         drop_path_rate=drop_path_rate, layer_scale_init_value=layer_scale_init_value,
                         out_indices=out_indices, frozen_stages=frozen_stages, gap_before_final_norm=True,
                         with_cp=with_cp, init_cfg=init_cfg)
        for i in self.out_indices:                  # MMPretrain's SparseConvNeXt has no output norms
            delattr(self, f'norm{i}')
        self.gap_before_output = gap_before_output
        for m in self.modules():                    # same parameters, sparse behaviour
            if isinstance(m, ConvNeXtBlock):
                m.__class__ = SparseConvNeXtBlock
            elif isinstance(m, (LayerNorm2d, nn.LayerNorm)):
                m.__class__ = SparseLayerNorm2D
        self.downsample_layers = sparsify(self.downsample_layers, sync_bn=False)
        self.stages = sparsify(self.stages, sync_bn=False)
        self.stage_reductions = tuple(None if gap_before_output else stem_patch_size * 2 ** i
                                      for i in range(self.num_stages))

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        return tuple(range(self.num_stages))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(self.downsample_layers[i](x))
            if i in self.out_indices:
                outs.append(x.mean((-2, -1)) if self.gap_before_output else x)
        return tuple(outs)

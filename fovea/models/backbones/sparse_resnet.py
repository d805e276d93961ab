"""ResNet with sparse (masked) convolutions for SparK pre-training (MMPretrain's ``SparseResNet``)."""
from __future__ import annotations

from fovea.models.backbones.resnet import ResNet
from fovea.models.layers.sparse import sparsify
from fovea.registry import MODELS

__all__ = ['SparseResNet']


@MODELS.register_module()
class SparseResNet(ResNet):
    """:class:`ResNet` whose convolutions, pools and batch norms act on the visible region only
    (:mod:`fovea.models.layers.sparse`); outside a SparK forward it is an ordinary ResNet with the
    same state-dict keys, so its weights load into ``ResNet`` for fine-tuning.

    Args: those of :class:`ResNet` with MMPretrain's defaults here: ``norm_cfg=dict(type=
    'SparseSyncBatchNorm2d')`` (any type with 'Sync' in its name gives synchronised statistics),
    ``zero_init_residual=False``, Kaiming / constant initialisation.
    """

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 expansion: int | None = None, num_stages: int = 4, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                 out_indices=(3,), style: str = 'pytorch', deep_stem: bool = False, avg_down: bool = False,
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='SparseSyncBatchNorm2d'), norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = False,
                 init_cfg: dict | list | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                 dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])],
                 drop_path_rate: float = 0, **kwargs):
        norm_cfg = dict(norm_cfg)
        sync = 'Sync' in norm_cfg.get('type', '')
        norm_cfg['type'] = 'BN'            # built dense, then every BN2d is swapped for the sparse one
        super().__init__(depth=depth, in_channels=in_channels, stem_channels=stem_channels,
                         base_channels=base_channels, expansion=expansion, num_stages=num_stages, strides=strides,
                         dilations=dilations, out_indices=out_indices, style=style, deep_stem=deep_stem,
                         avg_down=avg_down, frozen_stages=frozen_stages, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         norm_eval=norm_eval, with_cp=with_cp, zero_init_residual=zero_init_residual,
                         init_cfg=init_cfg, drop_path_rate=drop_path_rate, **kwargs)
        for name, child in list(self.named_children()):
            setattr(self, name, sparsify(child, sync))

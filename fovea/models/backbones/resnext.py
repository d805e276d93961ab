"""ResNeXt (Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017).

A ResNet whose bottleneck 3x3 conv is split into ``groups`` paths of ``width_per_group``
channels each (the "cardinality"), e.g. ResNeXt-50 32x4d or ResNeXt-101 32x8d.
"""
from __future__ import annotations

from fovea.models.backbones.resnet import Bottleneck, ResNet
from fovea.registry import MODELS

__all__ = ['ResNeXt']


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt backbone: :class:`ResNet` arguments plus the cardinality.

    Args:
        depth: 50, 101 or 152.
        groups: number of groups of the 3x3 conv (cardinality), e.g. 32.
        width_per_group: channels per group in the first stage, e.g. 4 (doubles every stage).
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4, **kwargs):
        self.groups = groups
        self.width_per_group = width_per_group
        super().__init__(depth, **kwargs)

    def _block_kwargs(self) -> dict:
        return dict(groups=self.groups, width_per_group=self.width_per_group, base_channels=self.base_channels)

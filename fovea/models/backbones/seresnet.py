"""SE-ResNet and SE-ResNeXt (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

Every bottleneck gains a squeeze-and-excitation gate after its last norm: global pooling,
a bottleneck of ``channels / se_ratio`` and a sigmoid that rescales the channels.
"""
from __future__ import annotations

from fovea.models.backbones.resnet import Bottleneck, ResNet
from fovea.models.backbones.resnext import ResNeXt
from fovea.models.layers.se import SELayer  # noqa: F401  (importable from here, as in MMPretrain)
from fovea.registry import MODELS

__all__ = ['SEBottleneck', 'SEResNet', 'SEResNeXt']


class SEBottleneck(Bottleneck):
    """A :class:`Bottleneck` with a squeeze-and-excitation gate (``se_ratio`` 16 by default)."""

    def __init__(self, in_channels: int, out_channels: int, se_ratio: int = 16, **kwargs):
        super().__init__(in_channels, out_channels, se_ratio=se_ratio, **kwargs)


@MODELS.register_module()
class SEResNet(ResNet):
    """SE-ResNet backbone: :class:`ResNet` arguments plus the SE squeeze ratio.

    Args:
        depth: 50, 101 or 152.
        se_ratio: squeeze ratio of the SE gates (16 in the paper).
    """

    arch_settings = {
        50: (SEBottleneck, (3, 4, 6, 3)),
        101: (SEBottleneck, (3, 4, 23, 3)),
        152: (SEBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, se_ratio: int = 16, **kwargs):
        self.se_ratio = se_ratio
        super().__init__(depth, **kwargs)

    def _block_kwargs(self) -> dict:
        return dict(se_ratio=self.se_ratio)


@MODELS.register_module()
class SEResNeXt(ResNeXt):
    """SE-ResNeXt backbone: :class:`ResNeXt` with SE gates (``groups``, ``width_per_group``, ``se_ratio``)."""

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4, se_ratio: int = 16, **kwargs):
        self.se_ratio = se_ratio
        super().__init__(depth, groups=groups, width_per_group=width_per_group, **kwargs)

    def _block_kwargs(self) -> dict:
        return dict(super()._block_kwargs(), se_ratio=self.se_ratio)

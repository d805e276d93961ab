"""Global average pooling neck."""
from __future__ import annotations

import torch
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['GlobalAveragePooling']


@MODELS.register_module()
class GlobalAveragePooling(nn.Module):
    """Average each feature map over its spatial dimensions and flatten it.

    Args:
        dim: 1, 2 or 3 for 1-D, 2-D or 3-D feature maps.
    """

    def __init__(self, dim: int = 2):
        super().__init__()
        if dim not in (1, 2, 3):
            raise ConfigError(f'GlobalAveragePooling dim must be 1, 2 or 3, got {dim!r}')
        self.dims = tuple(range(-dim, 0))

    def init_weights(self) -> None:
        pass

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims).flatten(1)

    def forward(self, inputs: tuple[torch.Tensor, ...] | torch.Tensor):
        if isinstance(inputs, tuple):
            return tuple(self._pool(x) for x in inputs)
        return self._pool(inputs)

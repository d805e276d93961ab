"""Channel shuffle (Zhang et al., "ShuffleNet", CVPR 2018)."""
from __future__ import annotations

import torch

__all__ = ['channel_shuffle']


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: (B, g*c, H, W) -> (B, c*g, H, W)."""
    b, c, h, w = x.shape
    if c % groups:
        raise ValueError(f'channel_shuffle: {c} channels are not divisible by groups={groups}')
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)

"""Fixed (not learned) position embeddings.

* :func:`build_2d_sincos_position_embedding` - the 2D sine-cosine table of MoCo v3 and MAE
  (Chen et al., "An Empirical Study of Training Self-Supervised Vision Transformers", ICCV 2021;
  He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022), with MMPretrain's
  name, arguments and layout, so checkpoints that store it match.
"""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.models.layers.patch_embed import to_2tuple
from fovea.utils.errors import ConfigError

__all__ = ['build_2d_sincos_position_embedding']


def build_2d_sincos_position_embedding(patches_resolution: int | Sequence[int], embed_dims: int,
                                       temperature: float = 10000., cls_token: bool = False) -> torch.Tensor:
    """(1, H*W [+1], embed_dims) table: a quarter each of sin/cos of the first grid coordinate and
    sin/cos of the second, at frequencies ``temperature ** (-d / (embed_dims / 4))``.

    The grid is indexed as MoCo v3's and MMPretrain's code does (``meshgrid(w, h)`` in 'ij'
    order, so the token at row-major position ``t`` has first coordinate ``t // h`` and second
    ``t % h``); ``cls_token=True`` prepends a row of zeros for the class token.
    """
    h, w = to_2tuple(patches_resolution)
    if embed_dims % 4:
        raise ConfigError(f'A 2D sin-cos position embedding needs embed_dims divisible by 4, got {embed_dims}.')
    quarter = embed_dims // 4
    omega = 1. / temperature ** (torch.arange(quarter, dtype=torch.float32) / quarter)
    first, second = torch.meshgrid(torch.arange(w, dtype=torch.float32), torch.arange(h, dtype=torch.float32),
                                   indexing='ij')
    out_1 = first.flatten()[:, None] * omega[None]
    out_2 = second.flatten()[:, None] * omega[None]
    table = torch.cat([out_1.sin(), out_1.cos(), out_2.sin(), out_2.cos()], dim=1)[None]
    if cls_token:
        table = torch.cat([table.new_zeros(1, 1, embed_dims), table], dim=1)
    return table

"""Sparse convolution by masking, for SparK (Tian et al., "Designing BERT for Convolutional Networks:
Sparse and Hierarchical Masked Modeling", ICLR 2023): dense convolutions and pools whose outputs are
zeroed outside the visible region, and norms whose statistics use only the visible positions. No
compiled sparse kernels; the visible region is a (B, 1, f, f) bool map set for the duration of a
forward by :func:`active_region` (outside one, everything is visible: the backbone is dense).

MMPretrain's names: ``SparseConv2d``, ``SparseMaxPooling``, ``SparseAvgPooling``,
``SparseBatchNorm2d``, ``SparseSyncBatchNorm2d``, ``SparseLN2d`` (``SparseLayerNorm2D``).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

__all__ = ['active_region', 'active_map', 'SparseConv2d', 'SparseMaxPooling', 'SparseAvgPooling',
           'SparseBatchNorm2d', 'SparseSyncBatchNorm2d', 'SparseLayerNorm2D', 'sparsify', 'build_sparse_norm']

_ACTIVE: list[torch.Tensor] = []


@contextmanager
def active_region(mask: torch.Tensor) -> Iterator[None]:
    """Within the block, sparse modules see ``mask`` ((B, 1, f, f) bool, True = visible)."""
    _ACTIVE.append(mask)
    try:
        yield
    finally:
        _ACTIVE.pop()


def active_map(h: int) -> torch.Tensor | None:
    """The visible region at feature height ``h`` ((B, 1, h, h) bool), or None outside a region."""
    if not _ACTIVE:
        return None
    mask = _ACTIVE[-1]
    r = h // mask.shape[-1]
    return mask.repeat_interleave(r, 2).repeat_interleave(r, 3) if r > 1 else mask


def _masked(x: torch.Tensor) -> torch.Tensor:
    m = active_map(x.shape[2])
    return x if m is None else x * m


class SparseConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _masked(super().forward(x))


class SparseMaxPooling(nn.MaxPool2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _masked(super().forward(x))


class SparseAvgPooling(nn.AvgPool2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _masked(super().forward(x))


def _on_visible(norm, x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """Apply a per-position norm (taking (N, C)) to the visible positions of a (B, C, H, W) map
    ((B, H, W, C) with ``channels_last``); the others are 0."""
    xl = x if channels_last else x.permute(0, 2, 3, 1)
    m = active_map(xl.shape[1])
    if m is None:
        out = norm(xl.reshape(-1, xl.shape[-1])).view(xl.shape)
    else:
        idx = m[:, 0].nonzero(as_tuple=True)
        vals = norm(xl[idx])
        out = xl.new_zeros(xl.shape, dtype=vals.dtype)
        out[idx] = vals
    return out if channels_last else out.permute(0, 3, 1, 2)


class SparseBatchNorm2d(nn.BatchNorm1d):
    """Batch norm over the visible positions of (B, C, H, W) maps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _on_visible(super().forward, x)


class SparseSyncBatchNorm2d(nn.SyncBatchNorm):
    """:class:`SparseBatchNorm2d` with statistics over all processes (one process: plain batch norm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _on_visible(super().forward, x)


class SparseLayerNorm2D(nn.LayerNorm):
    """Layer norm over channels at the visible positions; ``data_format`` 'channel_first' or 'channel_last'."""

    def forward(self, x: torch.Tensor, data_format: str = 'channel_first') -> torch.Tensor:
        if data_format not in ('channel_first', 'channel_last'):
            raise ValueError(f"data_format must be 'channel_first' or 'channel_last', got {data_format!r}")
        return _on_visible(super().forward, x, channels_last=data_format == 'channel_last')


_SPARSE_NORMS = {'SparseBatchNorm2d': SparseBatchNorm2d, 'SparseSyncBatchNorm2d': SparseSyncBatchNorm2d,
                 'SparseLN2d': SparseLayerNorm2D, 'SparseLayerNorm2D': SparseLayerNorm2D}


def build_sparse_norm(cfg: dict, channels: int) -> nn.Module:
    """A sparse norm from ``dict(type='SparseSyncBatchNorm2d' | 'SparseBatchNorm2d' | 'SparseLN2d', ...)``."""
    from fovea.utils.errors import ConfigError
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind not in _SPARSE_NORMS:
        raise ConfigError(f'Unknown sparse norm {kind!r}; use one of {sorted(_SPARSE_NORMS)}.')
    cfg.pop('requires_grad', None)
    return _SPARSE_NORMS[kind](channels, **cfg)


def sparsify(m: nn.Module, sync_bn: bool) -> nn.Module:
    """``m`` with its Conv2d, MaxPool2d, AvgPool2d and BatchNorm2d replaced by the sparse versions
    (same parameters and buffers, so the same state-dict keys)."""
    out = m
    if isinstance(m, nn.Conv2d) and not isinstance(m, SparseConv2d):
        out = SparseConv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                           m.bias is not None, m.padding_mode, device=m.weight.device)
        out.weight, out.bias = m.weight, m.bias
    elif isinstance(m, nn.MaxPool2d) and not isinstance(m, SparseMaxPooling):
        out = SparseMaxPooling(m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices, m.ceil_mode)
    elif isinstance(m, nn.AvgPool2d) and not isinstance(m, SparseAvgPooling):
        out = SparseAvgPooling(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                               m.divisor_override)
    elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)) and not isinstance(m, (SparseBatchNorm2d,
                                                                                  SparseSyncBatchNorm2d)):
        out = (SparseSyncBatchNorm2d if sync_bn else SparseBatchNorm2d)(
            m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
            track_running_stats=m.track_running_stats, device=m.weight.device if m.affine else None)
        if m.affine:
            out.weight, out.bias = m.weight, m.bias
        if m.track_running_stats:
            out.running_mean, out.running_var = m.running_mean, m.running_var
            out.num_batches_tracked = m.num_batches_tracked
    for name, child in m.named_children():
        out.add_module(name, sparsify(child, sync_bn))
    return out


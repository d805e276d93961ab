"""Convolution building blocks: norm/activation factories and ConvModule (conv -> norm -> act)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['build_norm_layer', 'build_activation_layer', 'build_conv_layer', 'ConvModule', 'make_divisible',
           'NORM_LAYERS', 'ACT_LAYERS']


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of (B, C, H, W) maps (ConvNeXt's 'LN2d')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            return super().forward(x)
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


#: MMCV norm type names -> (abbreviation, constructor taking num_features)
class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation OpenAI's CLIP weights were trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


NORM_LAYERS: dict[str, tuple[str, Any]] = {
    'BN': ('bn', nn.BatchNorm2d), 'BN2d': ('bn', nn.BatchNorm2d), 'BN1d': ('bn', nn.BatchNorm1d),
    'BN3d': ('bn', nn.BatchNorm3d), 'SyncBN': ('bn', nn.SyncBatchNorm),
    'GN': ('gn', None), 'LN': ('ln', nn.LayerNorm), 'LN2d': ('ln', LayerNorm2d),
    'IN': ('in', nn.InstanceNorm2d), 'IN2d': ('in', nn.InstanceNorm2d),
}

ACT_LAYERS: dict[str, Any] = {
    'ReLU': nn.ReLU, 'ReLU6': nn.ReLU6, 'LeakyReLU': nn.LeakyReLU, 'PReLU': nn.PReLU, 'ELU': nn.ELU,
    'Sigmoid': nn.Sigmoid, 'Tanh': nn.Tanh, 'GELU': nn.GELU, 'SiLU': nn.SiLU, 'Swish': nn.SiLU,
    'HSwish': nn.Hardswish, 'HSigmoid': nn.Hardsigmoid, 'Hardswish': nn.Hardswish,
    'Hardsigmoid': nn.Hardsigmoid, 'Mish': nn.Mish, 'Identity': nn.Identity, 'QuickGELU': QuickGELU,
}


def build_norm_layer(cfg: dict | None, num_features: int, postfix: int | str = '') -> tuple[str, nn.Module]:
    """Build a norm layer from an MMCV-style config (``dict(type='BN', eps=1e-5, requires_grad=True)``).

    Returns ``(name, layer)`` as MMCV does, the name being e.g. 'bn1'.
    """
    cfg = dict(cfg or dict(type='BN'))
    kind = cfg.pop('type')
    if kind not in NORM_LAYERS:
        raise ConfigError(f'Unknown norm type {kind!r}.{did_you_mean(kind, NORM_LAYERS)} '
                          f'Known: {", ".join(NORM_LAYERS)}.')
    abbr, ctor = NORM_LAYERS[kind]
    requires_grad = cfg.pop('requires_grad', True)
    if kind == 'GN':
        layer = nn.GroupNorm(num_channels=num_features, **cfg)
    else:
        if kind in ('LN', 'LN2d'):
            cfg.pop('momentum', None)
        layer = ctor(num_features, **cfg)
    for p in layer.parameters():
        p.requires_grad = requires_grad
    return f'{abbr}{postfix}', layer


def build_activation_layer(cfg: dict | None) -> nn.Module:
    """Build an activation from ``dict(type='ReLU', inplace=True)``; ``None`` gives Identity."""
    if cfg is None:
        return nn.Identity()
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind not in ACT_LAYERS:
        raise ConfigError(f'Unknown activation type {kind!r}.{did_you_mean(kind, ACT_LAYERS)}')
    ctor = ACT_LAYERS[kind]
    if 'inplace' in cfg and ctor in (nn.GELU, nn.Sigmoid, nn.Tanh, nn.PReLU, nn.Identity):
        cfg.pop('inplace')
    return ctor(**cfg)


def build_conv_layer(cfg: dict | None, *args: Any, **kwargs: Any) -> nn.Module:
    """``dict(type='Conv2d')`` (default), 'Conv1d', 'Conv3d' or 'Conv2dAdaptivePadding' (TF 'SAME')."""
    from fovea.models.layers.padding import Conv2dAdaptivePadding
    kind = (cfg or {}).get('type', 'Conv2d')
    layers = {'Conv2d': nn.Conv2d, 'Conv': nn.Conv2d, 'Conv1d': nn.Conv1d, 'Conv3d': nn.Conv3d,
              'Conv2dAdaptivePadding': Conv2dAdaptivePadding}
    if kind not in layers:
        raise ConfigError(f'Unknown conv type {kind!r}; known: {", ".join(layers)}')
    return layers[kind](*args, **kwargs)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None, min_ratio: float = 0.9) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` without going below ``min_ratio * value``."""
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class ConvModule(nn.Sequential):
    """conv -> norm -> activation, the MMCV ConvModule with its argument names.

    ``bias='auto'`` drops the conv bias when a norm layer follows. Children are named
    ``conv``, ``bn``/``gn``/``ln`` and ``activate``, so MMPretrain checkpoints load by name; ``order``
    (MMCV's) runs them in another order, e.g. ``('conv', 'act', 'norm')``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple = 1, stride: int = 1,
                 padding: int | tuple = 0, dilation: int = 1, groups: int = 1, bias: bool | str = 'auto',
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'), inplace: bool = True,
                 order: tuple[str, ...] = ('conv', 'norm', 'act')):
        super().__init__()
        if sorted(order) != ['act', 'conv', 'norm']:
            raise ConfigError(f"ConvModule order must be a permutation of ('conv', 'norm', 'act'), got {order!r}")
        with_norm = norm_cfg is not None
        if bias == 'auto':
            bias = not with_norm
        conv = build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride, padding,
                                dilation, groups, bias=bias)
        self.norm_name = None
        parts = {'conv': ('conv', conv)}
        if with_norm:
            # a norm after the conv normalises its output channels, before it (order) its input
            norm_channels = in_channels if order.index('norm') < order.index('conv') else out_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            parts['norm'] = (self.norm_name, norm)
        if act_cfg is not None:
            act_cfg = dict(act_cfg)
            if act_cfg['type'] in ('ReLU', 'ReLU6', 'LeakyReLU', 'SiLU', 'Swish', 'HSwish', 'HSigmoid',
                                   'Hardswish', 'Hardsigmoid', 'ELU', 'Mish'):
                act_cfg.setdefault('inplace', inplace)
            parts['act'] = ('activate', build_activation_layer(act_cfg))
        for part in order:
            if part in parts:
                self.add_module(*parts[part])

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

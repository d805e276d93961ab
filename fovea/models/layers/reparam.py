"""Structural re-parameterisation arithmetic shared by RepVGG, MobileOne and RepLKNet.

A convolution followed by an eval-mode batch norm is one convolution with bias; parallel branches on
the same input add kernels (smaller ones zero-padded to the centre) and biases; an identity branch is
the kernel with a single 1 at the centre of each channel's own input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.layers.conv import build_conv_layer, build_norm_layer

from fovea.utils.errors import ConfigError

__all__ = ['conv_bn', 'fuse_conv_bn', 'identity_kernel', 'pad_kernel', 'fused_conv', 'check_batch_norm']


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
            dilation: int = 1, groups: int = 1, conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
            norm_name: str = 'norm') -> nn.Sequential:
    """``Sequential(conv=<conv without bias>, <norm_name>=<norm>)``: one branch of a re-parameterisable block."""
    seq = nn.Sequential()
    seq.add_module('conv', build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride, padding,
                                            dilation, groups, bias=False))
    seq.add_module(norm_name, build_norm_layer(norm_cfg, out_channels)[1])
    return seq


def fuse_conv_bn(weight: torch.Tensor, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(kernel, bias) of ``bn(conv(x))`` in eval mode, for a conv without bias of kernel ``weight``."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


def identity_kernel(channels: int, groups: int, kernel_size: int, like: torch.Tensor) -> torch.Tensor:
    """The (channels, channels / groups, k, k) kernel of the identity map (a 1 at each channel's centre)."""
    per_group = channels // groups
    kernel = torch.zeros(channels, per_group, kernel_size, kernel_size, dtype=like.dtype, device=like.device)
    idx = torch.arange(channels, device=like.device)
    kernel[idx, idx % per_group, kernel_size // 2, kernel_size // 2] = 1
    return kernel


def pad_kernel(kernel: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """``kernel`` zero-padded (centred) to ``kernel_size`` x ``kernel_size``."""
    pad = (kernel_size - kernel.shape[-1]) // 2
    return F.pad(kernel, [pad] * 4) if pad else kernel


def fused_conv(like: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, conv_cfg: dict | None = None) -> nn.Module:
    """A conv with bias shaped as ``like`` (kernel, stride, padding, dilation, groups), holding ``weight``/``bias``."""
    conv = build_conv_layer(conv_cfg, like.in_channels, like.out_channels, like.kernel_size, like.stride,
                            like.padding, like.dilation, like.groups, bias=True).to(weight.device, weight.dtype)
    conv.weight.data.copy_(weight)
    conv.bias.data.copy_(bias)
    return conv


def check_batch_norm(norm_cfg: dict, family: str) -> None:
    """Folding needs batch norm (its eval-mode affine map); say so for any other norm."""
    if norm_cfg.get('type') not in ('BN', 'BN2d', 'SyncBN'):
        raise ConfigError(f'{family} re-parameterisation needs batch norm; norm_cfg is {norm_cfg}.')

"""SparK's light decoder: upsampling blocks that add each finer encoder map on the way up
(MMPretrain's ``SparKLightDecoder``)."""
from __future__ import annotations

import math

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SparKLightDecoder']


class _ConvBlock2x(BaseModule):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, norm_cfg: dict, act_cfg: dict,
                 last_act: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, 1, 1, bias=False)
        self.norm1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.activate1 = build_activation_layer(act_cfg)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.activate2 = build_activation_layer(act_cfg) if last_act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate2(self.norm2(self.conv2(self.activate1(self.norm1(self.conv1(x))))))


class _DecoderConvModule(BaseModule):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int, kernel_size: int = 4,
                 scale_factor: int = 2, num_conv_blocks: int = 1, norm_cfg: dict = dict(type='SyncBN'),
                 act_cfg: dict = dict(type='ReLU6'), last_act: bool = True):
        super().__init__()
        if kernel_size < scale_factor or (kernel_size - scale_factor) % 2:
            raise ConfigError(f'SparKLightDecoder kernel_size={kernel_size} must be >= scale_factor={scale_factor} '
                              'with an even difference.')
        self.upsample = nn.ConvTranspose2d(in_channels, in_channels, kernel_size=kernel_size, stride=scale_factor,
                                           padding=(kernel_size - scale_factor) // 2, bias=True)
        self.conv_blocks = nn.Sequential(*[
            _ConvBlock2x(in_channels, out_channels, mid_channels, norm_cfg, act_cfg, last_act)
            for _ in range(num_conv_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_blocks(self.upsample(x))


@MODELS.register_module()
class SparKLightDecoder(BaseModule):
    """``forward(to_dec)`` (coarsest map first, None where absent) -> (B, 3, H, W) image.

    Args (MMPretrain's): feature_dim (the coarsest input's width), upsample_ratio (a power of 2: the
    encoder's downsampling), mid_channels (0: the block input's), kernel_size, scale_factor,
    num_conv_blocks, norm_cfg (SyncBN; plain BN in one process), act_cfg (ReLU6), last_act.
    """

    def __init__(self, feature_dim: int, upsample_ratio: int, mid_channels: int = 0, kernel_size: int = 4,
                 scale_factor: int = 2, num_conv_blocks: int = 1, norm_cfg: dict = dict(type='SyncBN'),
                 act_cfg: dict = dict(type='ReLU6'), last_act: bool = False,
                 init_cfg: dict | list | None = [
                     dict(type='Kaiming', layer=['Conv2d', 'ConvTranspose2d']),
                     dict(type='TruncNormal', std=0.02, layer=['Linear']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'LayerNorm', 'SyncBatchNorm'])]):
        super().__init__(init_cfg)
        if upsample_ratio <= 0 or upsample_ratio & (upsample_ratio - 1):
            raise ConfigError(f'SparKLightDecoder upsample_ratio must be a power of 2, got {upsample_ratio}.')
        self.feature_dim = feature_dim
        n = round(math.log2(upsample_ratio))
        channels = [feature_dim // 2 ** i for i in range(n + 1)]
        self.decoder = nn.ModuleList(
            _DecoderConvModule(c_in, c_out, c_in if mid_channels == 0 else mid_channels, kernel_size, scale_factor,
                               num_conv_blocks, norm_cfg, act_cfg, last_act)
            for c_in, c_out in zip(channels[:-1], channels[1:]))
        self.proj = nn.Conv2d(channels[-1], 3, kernel_size=1, stride=1, bias=True)

    def forward(self, to_dec: list[torch.Tensor | None]) -> torch.Tensor:
        x = 0
        for i, block in enumerate(self.decoder):
            if i < len(to_dec) and to_dec[i] is not None:
                x = x + to_dec[i]
            x = block(x)
        return self.proj(x)

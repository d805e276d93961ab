"""MobileViT (Mehta & Rastegari, "MobileViT: Light-weight, General-purpose, and Mobile-friendly
Vision Transformer", ICLR 2022).

MobileNetV2 inverted residuals, then stages in which a MobileViT block unfolds the feature map into
2x2-pixel groups, runs transformer layers across the groups (global context), folds back and fuses
with the input. MMPretrain's arguments and arch names; module names follow MMPretrain except the
inverted residuals, which are fovea's shared block (``expand_conv``/``depthwise_conv``/``linear_conv``
for MMPretrain's ``conv.0/1/2``; the converters rename).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule, build_norm_layer
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.models.layers.transformer import TransformerEncoderLayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['MobileViT', 'MobileVitBlock']


class MobileVitBlock(nn.Module):
    """Local conv representation -> unfold -> transformer layers -> fold -> projection -> fusion.

    Args:
        in_channels / out_channels: block input / output channels.
        transformer_dim / ffn_dim: token width and FFN hidden width of the transformer layers.
        conv_ksize: kernel of the local and fusion convolutions.
        conv_cfg / norm_cfg / act_cfg: convolution layers' configs.
        num_transformer_blocks: transformer layers.
        patch_size: side of the pixel groups attended across.
        num_heads: attention heads.
        drop_rate / attn_drop_rate / drop_path_rate: transformer dropouts.
        no_fusion: leave out the fusion convolution.
        transformer_norm_cfg: norm of the transformer layers.
    """

    def __init__(self, in_channels: int, transformer_dim: int, ffn_dim: int, out_channels: int, conv_ksize: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = dict(type='BN'),
                 act_cfg: dict | None = dict(type='Swish'), num_transformer_blocks: int = 2, patch_size: int = 2,
                 num_heads: int = 4, drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 no_fusion: bool = False, transformer_norm_cfg: dict = dict(type='LN')):
        super().__init__()
        pad = (conv_ksize - 1) // 2
        self.local_rep = nn.Sequential(
            ConvModule(in_channels, in_channels, conv_ksize, padding=pad, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(in_channels, transformer_dim, 1, bias=False, conv_cfg=conv_cfg, norm_cfg=None, act_cfg=None))
        layers: list[nn.Module] = [
            TransformerEncoderLayer(transformer_dim, num_heads, ffn_dim, drop_rate=drop_rate,
                                    attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate, qkv_bias=True,
                                    act_cfg=dict(type='Swish'), norm_cfg=transformer_norm_cfg)
            for _ in range(num_transformer_blocks)]
        layers.append(build_norm_layer(transformer_norm_cfg, transformer_dim)[1])
        self.global_rep = nn.Sequential(*layers)
        self.conv_proj = ConvModule(transformer_dim, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                    act_cfg=act_cfg)
        self.conv_fusion = None if no_fusion else ConvModule(
            in_channels + out_channels, out_channels, conv_ksize, padding=pad, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.patch_size = (patch_size, patch_size)
        self.patch_area = patch_size * patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.local_rep(x)
        ph, pw = self.patch_size
        B, C, H, W = x.shape
        new_h, new_w = math.ceil(H / ph) * ph, math.ceil(W / pw) * pw
        resized = (new_h, new_w) != (H, W)
        if resized:  # as the reference: resize to a multiple of the patch, and back afterwards
            x = F.interpolate(x, size=(new_h, new_w), mode='bilinear', align_corners=False)
        nh, nw = new_h // ph, new_w // pw
        # unfold: (B, C, nh*ph, nw*pw) -> (B * ph*pw, nh*nw, C): each pixel position of a patch is one
        # sequence over the patches
        x = x.reshape(B, C, nh, ph, nw, pw).permute(0, 3, 5, 2, 4, 1).reshape(B * self.patch_area, nh * nw, C)
        x = self.global_rep(x)
        x = x.reshape(B, ph, pw, nh, nw, C).permute(0, 5, 3, 1, 4, 2).reshape(B, C, new_h, new_w)
        if resized:
            x = F.interpolate(x, size=(H, W), mode='bilinear', align_corners=False)
        x = self.conv_proj(x)
        if self.conv_fusion is not None:
            x = self.conv_fusion(torch.cat((shortcut, x), dim=1))
        return x


@MODELS.register_module()
class MobileViT(BaseBackbone):
    """MobileViT backbone.

    Args:
        arch: 'small', 'x_small', 'xx_small', or a list of layer settings:
            ``['mobilenetv2', out_channels, stride, num_blocks, expand_ratio]`` or
            ``['mobilevit', out_channels, stride, transformer_dim, ffn_dim, num_transformer_blocks,
            expand_ratio]``.
        in_channels: image channels.
        stem_channels: channels of the stride-2 stem convolution.
        last_exp_factor: the final 1x1 convolution's expansion of the last stage's channels.
        out_indices: stages returned (the last one passes through the final 1x1 convolution).
        frozen_stages: freeze stages 0..N-1 (-1 freezes nothing).
        conv_cfg / norm_cfg / act_cfg: convolution layers' configs.
    """

    arch_settings = {
        'small': [['mobilenetv2', 32, 1, 1, 4], ['mobilenetv2', 64, 2, 3, 4], ['mobilevit', 96, 2, 144, 288, 2, 4],
                  ['mobilevit', 128, 2, 192, 384, 4, 4], ['mobilevit', 160, 2, 240, 480, 3, 4]],
        'x_small': [['mobilenetv2', 32, 1, 1, 4], ['mobilenetv2', 48, 2, 3, 4], ['mobilevit', 64, 2, 96, 192, 2, 4],
                    ['mobilevit', 80, 2, 120, 240, 4, 4], ['mobilevit', 96, 2, 144, 288, 3, 4]],
        'xx_small': [['mobilenetv2', 16, 1, 1, 2], ['mobilenetv2', 24, 2, 3, 2], ['mobilevit', 48, 2, 64, 128, 2, 2],
                     ['mobilevit', 64, 2, 80, 160, 4, 2], ['mobilevit', 80, 2, 96, 192, 3, 2]],
    }

    def __init__(self, arch: str | list = 'small', in_channels: int = 3, stem_channels: int = 16,
                 last_exp_factor: int = 4, out_indices: int | Sequence[int] = (4,), frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='Swish'),
                 init_cfg: dict | list | None = [dict(type='Kaiming', layer=['Conv2d']),
                                                 dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]):
        super().__init__(init_cfg)
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_settings:
                raise ConfigError(f'MobileViT has no arch {arch!r}.{did_you_mean(key, self.arch_settings)} '
                                  f'Choose from {", ".join(self.arch_settings)} or pass a list of layer settings.')
            arch = self.arch_settings[key]
        self.arch = arch
        self.num_stages = len(arch)
        idx = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = [i + self.num_stages if i < 0 else i for i in idx]
        if any(not 0 <= i < self.num_stages for i in self.out_indices):
            raise ConfigError(f'MobileViT out_indices {out_indices} out of range for {self.num_stages} stages.')
        if frozen_stages not in range(-1, self.num_stages):
            raise ConfigError(f'MobileViT frozen_stages must be in [-1, {self.num_stages - 1}], got {frozen_stages}.')
        self.frozen_stages = frozen_stages
        self.stem = ConvModule(in_channels, stem_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        make = {'mobilenetv2': self.make_mobilenetv2_layer, 'mobilevit': self.make_mobilevit_layer}
        in_channels = stem_channels
        layers = []
        for setting in arch:
            if setting[0] not in make:
                raise ConfigError(f"MobileViT layer type must be 'mobilenetv2' or 'mobilevit', got {setting[0]!r}")
            layer, in_channels = make[setting[0]](in_channels, *setting[1:])
            layers.append(layer)
        self.layers = nn.Sequential(*layers)
        self.conv_1x1_exp = ConvModule(in_channels, last_exp_factor * in_channels, 1, conv_cfg=conv_cfg,
                                       norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stage_channels = (*(s[1] for s in arch[:-1]), last_exp_factor * in_channels)
        self.stage_reductions = tuple(2 * math.prod(s[2] for s in arch[:i + 1]) for i in range(len(arch)))

    @staticmethod
    def make_mobilevit_layer(in_channels: int, out_channels: int, stride: int, transformer_dim: int, ffn_dim: int,
                             num_transformer_blocks: int, expand_ratio: int = 4) -> tuple[nn.Module, int]:
        """One inverted residual (downsampling) followed by one MobileViT block."""
        return nn.Sequential(
            InvertedResidual(in_channels, out_channels, in_channels * expand_ratio, stride=stride,
                             act_cfg=dict(type='Swish')),
            MobileVitBlock(out_channels, transformer_dim, ffn_dim, out_channels,
                           num_transformer_blocks=num_transformer_blocks)), out_channels

    @staticmethod
    def make_mobilenetv2_layer(in_channels: int, out_channels: int, stride: int, num_blocks: int,
                               expand_ratio: int = 4) -> tuple[nn.Module, int]:
        """``num_blocks`` inverted residuals, the first with ``stride``."""
        blocks = []
        for i in range(num_blocks):
            blocks.append(InvertedResidual(in_channels, out_channels, in_channels * expand_ratio,
                                           stride=stride if i == 0 else 1, act_cfg=dict(type='Swish')))
            in_channels = out_channels
        return nn.Sequential(*blocks), out_channels

    def _freeze_stages(self) -> None:
        for layer in self.layers[:max(self.frozen_stages, 0)]:  # -1: nothing (a slice [:-1] would be all but one)
            freeze_module(layer)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1:
                x = self.conv_1x1_exp(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """(depth, num_depths) for layer-wise lr decay: stem 0, stage i -> i + 1, the rest last."""
        num_layers = self.num_stages + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith('stem'):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

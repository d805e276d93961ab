"""Patch embedding and patch merging, and resizing of learned position tables to a new grid.

* :class:`PatchEmbed` - image -> (B, N, C) tokens by a strided convolution (or the equivalent
  linear layer on flattened patches), any patch size; pads bottom/right when the image is not a
  multiple of the patch ('corner' padding, MMCV's default).
* :class:`PatchMerging` - Swin's 2x2 neighbourhood concatenation + linear reduction
  (Liu et al., "Swin Transformer", ICCV 2021), with MMCV's unfold channel order.
* :func:`resize_pos_embed` - interpolate an absolute position embedding to another patch grid
  (loading a 224px checkpoint into a 384px model, or running at another input size).
* :func:`resize_relative_position_bias_table` - interpolate a Swin relative position bias table
  to another window size.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.utils.errors import ConfigError

__all__ = ['PatchEmbed', 'PatchMerging', 'AdaptivePadding', 'resize_pos_embed',
           'resize_relative_position_bias_table', 'to_2tuple']


def to_2tuple(x: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(x, int):
        return (x, x)
    x = tuple(x)
    if len(x) != 2:
        raise ValueError(f'expected an int or a pair, got {x}')
    return x  # type: ignore[return-value]


class AdaptivePadding(nn.Module):
    """Pad (B, C, H, W) so that a ``kernel_size``/``stride`` window covers the whole input.

    ``padding='corner'`` pads bottom/right only; 'same' splits the padding around the input.
    """

    def __init__(self, kernel_size: int | Sequence[int] = 1, stride: int | Sequence[int] = 1,
                 dilation: int | Sequence[int] = 1, padding: str = 'corner'):
        super().__init__()
        if padding not in ('same', 'corner'):
            raise ConfigError(f"padding must be 'same' or 'corner', got {padding!r}")
        self.padding = padding
        self.kernel_size = to_2tuple(kernel_size)
        self.stride = to_2tuple(stride)
        self.dilation = to_2tuple(dilation)

    def get_pad_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        pads = []
        for size, k, s, d in zip(input_shape, self.kernel_size, self.stride, self.dilation):
            out = math.ceil(size / s)
            pads.append(max((out - 1) * s + (k - 1) * d + 1 - size, 0))
        return pads[0], pads[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self.get_pad_shape(x.shape[-2:])
        if pad_h or pad_w:
            if self.padding == 'corner':
                x = F.pad(x, [0, pad_w, 0, pad_h])
            else:
                x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return x


class PatchEmbed(BaseModule):
    """Split an image into patches and project each to ``embed_dims`` (MMCV's PatchEmbed).

    Args:
        in_channels: image channels.
        embed_dims: token width.
        conv_type: 'Conv2d' (a strided convolution, the usual form) or 'Linear' (a linear layer on
            patches flattened in (C, kh, kw) order; needs ``stride == kernel_size``).
        kernel_size / stride: patch size and step (stride defaults to the kernel size).
        padding: 'corner' / 'same' (pad so no pixel is dropped) or an int.
        dilation: convolution dilation.
        bias: projection bias.
        norm_cfg: optional norm on the tokens (Swin).
        input_size: image size the model is built for; sets ``init_out_size`` (the patch grid).

    ``forward(x)`` returns ``(tokens (B, N, C), (H_out, W_out))``.
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, conv_type: str = 'Conv2d',
                 kernel_size: int | Sequence[int] = 16, stride: int | Sequence[int] | None = None,
                 padding: int | str = 'corner', dilation: int = 1, bias: bool = True, norm_cfg: dict | None = None,
                 input_size: int | Sequence[int] | None = None, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if conv_type not in ('Conv2d', 'Linear'):
            raise ConfigError(f"PatchEmbed conv_type must be 'Conv2d' or 'Linear', got {conv_type!r}")
        kernel_size = to_2tuple(kernel_size)
        stride = to_2tuple(stride if stride is not None else kernel_size)
        dilation = to_2tuple(dilation)
        self.embed_dims = embed_dims
        self.conv_type = conv_type
        if isinstance(padding, str):
            self.adaptive_padding = AdaptivePadding(kernel_size, stride, dilation, padding)
            padding = 0
        else:
            self.adaptive_padding = None
        padding = to_2tuple(padding)
        if conv_type == 'Linear':
            if stride != kernel_size or dilation != (1, 1) or padding != (0, 0):
                raise ConfigError("PatchEmbed conv_type='Linear' needs stride == kernel_size, no dilation/padding.")
            self.projection = nn.Linear(in_channels * kernel_size[0] * kernel_size[1], embed_dims, bias=bias)
        else:
            self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, padding, dilation, bias=bias)
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg is not None else None
        if input_size is not None:
            h, w = to_2tuple(input_size)
            if self.adaptive_padding is not None:
                ph, pw = self.adaptive_padding.get_pad_shape((h, w))
                h, w = h + ph, w + pw
            self.init_out_size = tuple(
                (size + 2 * p - d * (k - 1) - 1) // s + 1
                for size, p, d, k, s in zip((h, w), padding, dilation, kernel_size, stride))
            self.init_input_size = to_2tuple(input_size)
        else:
            self.init_out_size = None
            self.init_input_size = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.adaptive_padding is not None:
            x = self.adaptive_padding(x)
        if self.conv_type == 'Linear':
            B, C, H, W = x.shape
            kh, kw = self.kernel_size
            gh, gw = H // kh, W // kw
            x = x[:, :, :gh * kh, :gw * kw].reshape(B, C, gh, kh, gw, kw)
            x = self.projection(x.permute(0, 2, 4, 1, 3, 5).reshape(B, gh * gw, C * kh * kw))
            out_size = (gh, gw)
        else:
            x = self.projection(x)
            out_size = (x.shape[2], x.shape[3])
            x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, out_size


class PatchMerging(BaseModule):
    """Merge each ``kernel_size`` neighbourhood of tokens into one and project it (Swin's downsampling).

    The concatenated features are ordered (C, kh, kw), as MMCV's ``nn.Unfold``-based PatchMerging
    orders them, so MMPretrain Swin checkpoints load unchanged (the timm converter reorders).

    Args:
        in_channels / out_channels: token widths before and after.
        kernel_size / stride: neighbourhood size and step (stride defaults to the kernel size).
        padding: 'corner' pads odd maps bottom/right; or an int.
        bias: bias of the reduction.
        norm_cfg: norm applied to the concatenated features before the reduction.
        use_post_norm: normalise the reduced features instead (after the reduction: Swin V2).

    ``forward(x (B, H*W, C), (H, W))`` returns ``(tokens, (H', W'))``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2, stride: int | None = None,
                 padding: int | str = 'corner', dilation: int = 1, bias: bool = False,
                 norm_cfg: dict | None = dict(type='LN'), use_post_norm: bool = False, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.use_post_norm = use_post_norm
        kernel_size = to_2tuple(kernel_size)
        stride = to_2tuple(stride if stride else kernel_size)
        dilation = to_2tuple(dilation)
        if isinstance(padding, str):
            self.adaptive_padding = AdaptivePadding(kernel_size, stride, dilation, padding)
            padding = 0
        else:
            self.adaptive_padding = None
        self.kernel_size, self.stride, self.dilation, self.padding = kernel_size, stride, dilation, to_2tuple(padding)
        sample_dim = kernel_size[0] * kernel_size[1] * in_channels
        norm_dims = out_channels if use_post_norm else sample_dim
        self.norm = build_norm_layer(norm_cfg, norm_dims)[1] if norm_cfg is not None else None
        self.reduction = nn.Linear(sample_dim, out_channels, bias=bias)

    def forward(self, x: torch.Tensor, input_size: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        B, L, C = x.shape
        H, W = input_size
        if L != H * W:
            raise ValueError(f'PatchMerging got {L} tokens for a {H}x{W} map')
        x = x.view(B, H, W, C)
        simple = (self.kernel_size == self.stride and self.dilation == (1, 1) and self.padding == (0, 0))
        if self.adaptive_padding is not None:
            ph, pw = self.adaptive_padding.get_pad_shape((H, W))
            if ph or pw:
                if self.adaptive_padding.padding == 'corner':
                    x = F.pad(x, (0, 0, 0, pw, 0, ph))
                else:
                    x = F.pad(x, (0, 0, pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
                H, W = H + ph, W + pw
        if simple:  # a reshape gives nn.Unfold's (C, kh, kw) order without the copy to channels-first
            kh, kw = self.kernel_size
            oh, ow = H // kh, W // kw
            x = x[:, :oh * kh, :ow * kw].reshape(B, oh, kh, ow, kw, C).permute(0, 1, 3, 5, 2, 4)
            x = x.reshape(B, oh * ow, C * kh * kw)
        else:
            x = F.unfold(x.permute(0, 3, 1, 2), self.kernel_size, self.dilation, self.padding, self.stride)
            oh = (H + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
            ow = (W + 2 * self.padding[1] - self.dilation[1] * (self.kernel_size[1] - 1) - 1) // self.stride[1] + 1
            x = x.transpose(1, 2)
        if self.use_post_norm:
            x = self.reduction(x)
            return (self.norm(x) if self.norm is not None else x), (oh, ow)
        if self.norm is not None:
            x = self.norm(x)
        return self.reduction(x), (oh, ow)


def resize_pos_embed(pos_embed: torch.Tensor, src_shape: Sequence[int], dst_shape: Sequence[int],
                     mode: str = 'bicubic', num_extra_tokens: int = 1) -> torch.Tensor:
    """Interpolate a (1, extra + H*W, C) position embedding from an ``src_shape`` grid to ``dst_shape``.

    The first ``num_extra_tokens`` entries (class / distillation tokens) are kept as they are.
    """
    src_h, src_w = to_2tuple(src_shape)
    dst_h, dst_w = to_2tuple(dst_shape)
    if (src_h, src_w) == (dst_h, dst_w):
        return pos_embed
    if pos_embed.ndim != 3:
        raise ValueError(f'pos_embed must be (1, L, C), got shape {tuple(pos_embed.shape)}')
    _, L, C = pos_embed.shape
    if L != src_h * src_w + num_extra_tokens:
        raise ValueError(f'pos_embed has {L} entries, but a {src_h}x{src_w} grid with {num_extra_tokens} extra '
                         f'tokens needs {src_h * src_w + num_extra_tokens}; check img_size / patch_size.')
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    grid = grid.reshape(1, src_h, src_w, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(dst_h, dst_w), mode=mode, align_corners=False)
    grid = grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat((extra, grid), dim=1)


def resize_relative_position_bias_table(src_shape: int | Sequence[int], dst_shape: int | Sequence[int],
                                        table: torch.Tensor, num_head: int | None = None) -> torch.Tensor:
    """Interpolate a ((2Wh-1)*(2Ww-1), heads) relative position bias table to another window size.

    ``src_shape``/``dst_shape`` are the table's side lengths ``2*window-1`` (an int for square
    tables). Bicubic interpolation over the relative offsets (as timm does).
    """
    sh, sw = to_2tuple(src_shape)
    dh, dw = to_2tuple(dst_shape)
    if table.shape[0] != sh * sw:
        raise ValueError(f'relative position bias table has {table.shape[0]} rows, expected {sh}x{sw}')
    if (sh, sw) == (dh, dw):
        return table
    heads = table.shape[1]
    grid = table.float().t().reshape(1, heads, sh, sw)
    grid = F.interpolate(grid, size=(dh, dw), mode='bicubic', align_corners=False)
    return grid.reshape(heads, dh * dw).t().contiguous().to(table.dtype)

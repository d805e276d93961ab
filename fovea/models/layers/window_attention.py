"""Window attention of the Swin Transformer (Liu et al., "Swin Transformer: Hierarchical Vision
Transformer using Shifted Windows", ICCV 2021).

* :func:`window_partition` / :func:`window_reverse` - (B, H, W, C) <-> (B*nW, ws, ws, C).
* :func:`shifted_window_mask` - the additive mask that keeps shifted windows from attending across
  the wrap-around seams.
* :func:`relative_position_index` - indices into a relative position bias table.
* :class:`WindowMSA` - multi-head attention inside each window with a learned relative position bias,
  on ``scaled_dot_product_attention``.
* :class:`WindowMSAV2` - Swin V2's cosine attention with a continuous (MLP) position bias.
* :class:`ShiftWindowMSA` - pad to a multiple of the window, cyclic shift, window attention, undo.

Names follow MMPretrain (``attn.w_msa.qkv``, ``relative_position_bias_table``).
"""
from __future__ import annotations

import logging
import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.base import BaseModule
from fovea.models.layers.patch_embed import resize_relative_position_bias_table, to_2tuple
from fovea.models.layers.transformer import build_dropout
from fovea.utils.errors import ConfigError

__all__ = ['masked_attention', 'window_partition', 'window_reverse', 'shifted_window_mask', 'relative_position_index',
           'WindowMSA', 'WindowMSAV2', 'ShiftWindowMSA', 'log_spaced_relative_coords']

logger = logging.getLogger('fovea')


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``window_size`` -> (B * nW, window_size, window_size, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, C)


def window_reverse(windows: torch.Tensor, H: int, W: int, window_size: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, ws, ws, C) -> (B, H, W, C)."""
    C = windows.shape[-1]
    x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


@lru_cache(maxsize=64)
def _shifted_window_mask(H: int, W: int, window_size: int, shift_size: int, device: torch.device) -> torch.Tensor:
    img_mask = torch.zeros(1, H, W, 1, device='cpu')
    cnt = 0
    slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    for h in slices:
        for w in slices:
            img_mask[:, h, w, :] = cnt
            cnt += 1
    windows = window_partition(img_mask, window_size).view(-1, window_size * window_size)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0).to(device)


def shifted_window_mask(H: int, W: int, window_size: int, shift_size: int,
                        device: torch.device | str | None = None) -> torch.Tensor | None:
    """(nW, ws*ws, ws*ws) additive mask (0 or -100) for a padded H x W map shifted by ``shift_size``;
    None when there is no shift. Cached per shape and device (no host-to-device copy per step)."""
    if shift_size == 0:
        return None
    return _shifted_window_mask(H, W, window_size, shift_size, torch.device(device or 'cpu'))


def relative_position_index(window_size: tuple[int, int], table_size: tuple[int, int] | None = None) -> torch.Tensor:
    """(Wh*Ww, Wh*Ww) indices into a ((2Th-1)*(2Tw-1), heads) bias table.

    ``table_size`` is the window the table was built for (default: ``window_size``); a smaller window
    reads the central part of a bigger table, so a block can attend in windows shrunk to a small map.
    """
    wh, ww = window_size
    th, tw = table_size or window_size
    coords = torch.stack(torch.meshgrid(torch.arange(wh, device='cpu'), torch.arange(ww, device='cpu'),
                                       indexing='ij')).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]  # 2, N, N
    return (rel[0] + th - 1) * (2 * tw - 1) + (rel[1] + tw - 1)


@lru_cache(maxsize=64)
def _shrunk_index(window_size: tuple[int, int], table_size: tuple[int, int], device: torch.device) -> torch.Tensor:
    return relative_position_index(window_size, table_size).to(device)



def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor,
                     dropout_p: float, scale: float) -> torch.Tensor:
    """softmax(q k^T * scale + attn_mask) v, with an additive float mask.

    ``scaled_dot_product_attention`` everywhere except on CPU when gradients are needed: there SDPA
    with a float mask takes an unfused path whose backward is slower than the explicit form
    (Swin-T train step, 2 CPU cores: explicit 1.08x faster in fp32, 1.46x in bf16; SDPA stays
    1.2-1.3x faster for inference, so it keeps that case).
    """
    if q.device.type == 'cpu' and torch.is_grad_enabled() and q.requires_grad:
        attn = torch.softmax((q * scale) @ k.transpose(-2, -1) + attn_mask, dim=-1)
        if dropout_p:
            attn = F.dropout(attn, dropout_p)
        return attn @ v
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)


class _WindowAttention(BaseModule):
    """Attention inside each window with a per-head bias over relative positions, on
    :func:`masked_attention`: subclasses give the projections (``_qkv``, ``proj``, ``proj_drop``), the
    bias (``relative_position_bias``), the temperature ``scale`` and ``attn_drop``."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                window_size: tuple[int, int] | None = None) -> torch.Tensor:
        B_, N, C = x.shape
        q, k, v = self._qkv(x)
        bias = self.relative_position_bias(window_size).to(q.dtype)  # heads, N, N
        if mask is None:
            out = masked_attention(q, k, v, bias.unsqueeze(0), self.attn_drop if self.training else 0., self.scale)
        else:
            # fold the windows into the head axis: the mask then broadcasts over the batch only,
            # which the fused kernels accept without materialising a (B*nW, heads, N, N) tensor
            nW = mask.shape[0]
            B = B_ // nW
            fold = lambda t: t.reshape(B, nW * self.num_heads, N, self.head_dims)  # noqa: E731
            attn_mask = (bias.unsqueeze(0) + mask.to(q.dtype).unsqueeze(1)).reshape(1, nW * self.num_heads, N, N)
            out = masked_attention(fold(q), fold(k), fold(v), attn_mask, self.attn_drop if self.training else 0.,
                                   self.scale)
            out = out.reshape(B_, self.num_heads, N, self.head_dims)
        out = out.transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(out))


class WindowMSA(_WindowAttention):
    """Multi-head self-attention within windows, with a relative position bias table.

    Args:
        embed_dims: token width.
        window_size: (Wh, Ww).
        num_heads: attention heads.
        qkv_bias: bias of the qkv projection.
        qk_scale: overrides ``head_dims ** -0.5``.
        attn_drop / proj_drop: dropout on attention weights / after the projection.

    ``forward(x (B*nW, N, C), mask=None, window_size=None)``; ``mask`` (nW, N, N) is additive;
    ``window_size`` may be smaller than the built one (windows shrunk to a small map).
    """

    def __init__(self, embed_dims: int, window_size: int | tuple[int, int], num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0., proj_drop: float = 0.,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        self.window_size = to_2tuple(window_size)
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = qk_scale or self.head_dims ** -0.5
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        # derived from window_size: rebuilt, not loaded (old checkpoints that carry it are accepted)
        self.register_buffer('relative_position_index', relative_position_index(self.window_size), persistent=False)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Fit a checkpoint's bias table trained with another window size (e.g. 7 at 224px -> 12 at
        384px) by bicubic interpolation over the relative offsets; drop the derived index buffer."""
        state_dict.pop(prefix + 'relative_position_index', None)
        name = prefix + 'relative_position_bias_table'
        table = state_dict.get(name)
        own = self.relative_position_bias_table
        if table is None or table.shape == own.shape or table.ndim != 2 or table.shape[1] != own.shape[1]:
            return
        side = int(round(table.shape[0] ** 0.5))
        if side * side != table.shape[0]:
            return
        dst = (2 * self.window_size[0] - 1, 2 * self.window_size[1] - 1)
        logger.info('Resized %s from %s (window %d) to %s (window %dx%d) by bicubic interpolation.',
                    name, tuple(table.shape), (side + 1) // 2, tuple(own.shape), *self.window_size)
        state_dict[name] = resize_relative_position_bias_table(side, dst, table)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B_, N, _ = x.shape
        return self.qkv(x).reshape(B_, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4).unbind(0)

    def relative_position_bias(self, window_size: tuple[int, int] | None = None) -> torch.Tensor:
        """(heads, N, N) bias for windows of ``window_size`` (default: the built size)."""
        if window_size is None or tuple(window_size) == self.window_size:
            index = self.relative_position_index
        else:
            index = _shrunk_index(tuple(window_size), self.window_size, self.relative_position_bias_table.device)
        n = index.shape[0]
        return self.relative_position_bias_table[index.view(-1)].view(n, n, -1).permute(2, 0, 1)

def log_spaced_relative_coords(window_size: tuple[int, int], pretrained_window_size: tuple[int, int] = (0, 0)
                               ) -> torch.Tensor:
    """(1, 2Wh-1, 2Ww-1, 2) relative offsets of a window, scaled to [-8, 8] by the (pretrained) window and
    log-spaced, ``sign(d) * log2(|d| + 1) / 3``: the input of Swin V2's continuous position bias MLP."""
    wh, ww = window_size
    table = torch.stack(torch.meshgrid(torch.arange(-(wh - 1), wh, dtype=torch.float32, device='cpu'),
                                       torch.arange(-(ww - 1), ww, dtype=torch.float32, device='cpu'),
                                       indexing='ij'), dim=-1)[None]
    ref = pretrained_window_size if pretrained_window_size[0] > 0 else window_size
    table = table / torch.tensor([ref[0] - 1, ref[1] - 1], dtype=torch.float32, device='cpu') * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)


class WindowMSAV2(_WindowAttention):
    """Swin V2's window attention (Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution",
    CVPR 2022): cosine similarity of q and k times a learned per-head temperature (``logit_scale``, at most
    100), and a bias ``16 * sigmoid(cpb_mlp(log-spaced offsets))`` from a small MLP instead of a table.

    Args:
        embed_dims / window_size / num_heads / attn_drop / proj_drop: as :class:`WindowMSA`.
        qkv_bias: learned biases of q and v (``q_bias``, ``v_bias``; k has none).
        cpb_mlp_hidden_dims: hidden width of the position-bias MLP.
        pretrained_window_size: the window the weights were trained with (scales the offsets when
            fine-tuning at a larger window); 0 uses ``window_size``.

    The offsets table and index are derived buffers: rebuilt, not loaded (MMPretrain's checkpoints carry them).
    """

    def __init__(self, embed_dims: int, window_size: int | tuple[int, int], num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0., cpb_mlp_hidden_dims: int = 512,
                 pretrained_window_size: int | tuple[int, int] = (0, 0), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.embed_dims, self.num_heads = embed_dims, num_heads
        self.window_size = to_2tuple(window_size)
        self.pretrained_window_size = to_2tuple(pretrained_window_size)
        self.head_dims = embed_dims // num_heads
        self.scale = 1.   # the temperature is logit_scale, applied to q
        self.cpb_mlp = nn.Sequential(nn.Linear(2, cpb_mlp_hidden_dims), nn.ReLU(inplace=True),
                                     nn.Linear(cpb_mlp_hidden_dims, num_heads, bias=False))
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.)))
        coords = log_spaced_relative_coords(self.window_size, self.pretrained_window_size)
        # on the device parameters are created on (meta when a model is only counted): the MLP reads it
        self.register_buffer('relative_coords_table', coords.to(self.logit_scale.device), persistent=False)
        self.register_buffer('relative_position_index', relative_position_index(self.window_size), persistent=False)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(embed_dims)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(embed_dims)) if qkv_bias else None
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Drop the derived buffers MMPretrain's checkpoints carry (rebuilt from the window size)."""
        state_dict.pop(prefix + 'relative_position_index', None)
        state_dict.pop(prefix + 'relative_coords_table', None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B_, N, _ = x.shape
        bias = None if self.q_bias is None else torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        q, k, v = F.linear(x, self.qkv.weight, bias).reshape(B_, N, 3, self.num_heads, self.head_dims) \
            .permute(2, 0, 3, 1, 4).unbind(0)
        temperature = torch.clamp(self.logit_scale, max=math.log(100.)).exp()
        return F.normalize(q, dim=-1) * temperature, F.normalize(k, dim=-1), v

    def relative_position_bias(self, window_size: tuple[int, int] | None = None) -> torch.Tensor:
        """(heads, N, N) bias for windows of ``window_size`` (default: the built size; the MLP extends to
        other sizes)."""
        if window_size is None or tuple(window_size) == self.window_size:
            coords, index = self.relative_coords_table, self.relative_position_index
        else:
            device = self.logit_scale.device
            coords = log_spaced_relative_coords(tuple(window_size), self.pretrained_window_size).to(device)
            index = _shrunk_index(tuple(window_size), tuple(window_size), device)
        n = index.shape[0]
        table = self.cpb_mlp(coords).view(-1, self.num_heads)
        return 16 * torch.sigmoid(table[index.view(-1)].view(n, n, -1).permute(2, 0, 1))


class ShiftWindowMSA(BaseModule):
    """Shifted-window multi-head self-attention on a (B, H*W, C) token map.

    The map is padded bottom/right to a multiple of the window, cyclically shifted by
    ``shift_size`` (masking attention across the seams), split into windows, attended, and put back.

    Args:
        embed_dims / num_heads / window_size: as :class:`WindowMSA`.
        shift_size: cyclic shift (0 <= shift < window); 0 is plain window attention.
        dropout_layer: DropPath/Dropout on the output.
        pad_small_map: maps smaller than the window are padded up to it (detection style). When
            False (classification), such maps are a ConfigError (as in MMPretrain), and a map exactly
            one window large is not shifted.
        **kwargs: passed to :class:`WindowMSA` (qkv_bias, qk_scale, attn_drop, proj_drop).
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int = 0,
                 dropout_layer: dict | None = dict(type='DropPath', drop_prob=0.), pad_small_map: bool = False,
                 window_msa: type = WindowMSA, init_cfg: dict | None = None, **kwargs):
        super().__init__(init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift_size must be in [0, window_size={window_size}), got {shift_size}')
        self.shift_size = shift_size
        self.window_size = window_size
        self.w_msa = window_msa(embed_dims=embed_dims, num_heads=num_heads, window_size=to_2tuple(window_size),
                                **kwargs)
        self.drop = build_dropout(dropout_layer)
        self.pad_small_map = pad_small_map

    def forward(self, query: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        B, L, C = query.shape
        H, W = hw_shape
        if L != H * W:
            raise ValueError(f'ShiftWindowMSA got {L} tokens for a {H}x{W} map')
        x = query.view(B, H, W, C)
        ws, shift = self.window_size, self.shift_size
        if min(H, W) < ws and not self.pad_small_map:  # refused as in MMPretrain (an AssertionError there)
            raise ConfigError(f'The input shape ({H}, {W}) is smaller than the window size ({ws}). Set '
                              f'pad_small_map=True, decrease window_size, or feed larger images.')
        if min(H, W) == ws and not self.pad_small_map:  # one window: no shift (the original Swin)
            shift = 0
        pad_r, pad_b = (ws - W % ws) % ws, (ws - H % ws) % ws
        if pad_r or pad_b:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        Hp, Wp = H + pad_b, W + pad_r
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        mask = shifted_window_mask(Hp, Wp, ws, shift, device=x.device)
        windows = window_partition(x, ws).view(-1, ws * ws, C)
        windows = self.w_msa(windows, mask=mask, window_size=(ws, ws))
        x = window_reverse(windows.view(-1, ws, ws, C), Hp, Wp, ws)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        if pad_r or pad_b:
            x = x[:, :H, :W, :]
        return self.drop(x.reshape(B, H * W, C))

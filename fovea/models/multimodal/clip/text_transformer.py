"""CLIP's transformer (Radford et al., ICML 2021): pre-norm residual attention blocks with a fused
``in_proj`` and a ``c_fc``/``c_proj`` MLP, causal for text.

State-dict names are OpenAI's, which open_clip and MMPretrain's ``CLIPTransformer`` keep
(``resblocks.N.ln_1``, ``attn.in_proj_weight``, ``attn.out_proj``, ``mlp.c_fc``, ``mlp.c_proj``), so
text towers of all three load by name. Tokens are batch-first (B, L, C) and attention runs on
:func:`torch.nn.functional.scaled_dot_product_attention` (causal kernels where the device has them).
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from fovea.models.layers.conv import build_activation_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['CLIPTransformer', 'ResidualAttentionBlock']


class _Attention(nn.Module):
    """Self-attention with ``nn.MultiheadAttention``'s parameter names (``in_proj_weight``, ``out_proj``)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ConfigError(f'CLIPTransformer width={width} is not divisible by heads={heads}.')
        self.num_heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        B, L, C = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(B, L, 3, self.num_heads, -1) \
            .permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(B, L, C))


class ResidualAttentionBlock(nn.Module):
    """``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; MLP width ``mlp_ratio * width``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, act_cfg: dict = dict(type='QuickGELU')):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = _Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential()
        self.mlp.add_module('c_fc', nn.Linear(width, hidden))
        self.mlp.add_module('gelu', build_activation_layer(act_cfg))
        self.mlp.add_module('c_proj', nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


@MODELS.register_module()
class CLIPTransformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` (MMPretrain's ``CLIPTransformer`` arguments).

    Args:
        width: token width.
        layers: number of blocks.
        heads: attention heads.
        attn_mask: causal attention (text): ``True`` or MMPretrain's additive ``-inf`` upper-triangular
            mask (only the causal mask is supported); ``None``/``False`` attends everywhere.
        mlp_ratio: MLP width over ``width``.
        act_cfg: MLP activation: QuickGELU (OpenAI's weights, MMPretrain) or ``dict(type='GELU')``
            (open_clip models without ``quick_gelu``).
        grad_checkpointing: recompute block activations in backward to save memory.

    ``forward(x)``: (B, L, width) -> (B, L, width).
    """

    def __init__(self, width: int, layers: int, heads: int, attn_mask: bool | torch.Tensor | None = None,
                 mlp_ratio: float = 4.0, act_cfg: dict = dict(type='QuickGELU'), grad_checkpointing: bool = False):
        super().__init__()
        if isinstance(attn_mask, torch.Tensor):
            if not torch.equal(torch.isinf(attn_mask), torch.ones_like(attn_mask, dtype=torch.bool).triu(1)):
                raise ConfigError('CLIPTransformer attn_mask: only the causal (upper-triangular -inf) mask is '
                                  'supported; pass attn_mask=True.')
            attn_mask = True
        self.causal = bool(attn_mask)
        self.width = width
        self.layers = layers
        self.grad_checkpointing = grad_checkpointing
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, mlp_ratio, act_cfg) for _ in range(layers))

    def init_weights(self) -> None:
        """OpenAI's initialisation (as open_clip and MMPretrain)."""
        proj_std = self.width ** -0.5 * (2 * self.layers) ** -0.5
        attn_std = self.width ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, self.causal, use_reentrant=False)
            else:
                x = block(x, self.causal)
        return x



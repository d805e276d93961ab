"""LeViT (Graham et al., "LeViT: a Vision Transformer in ConvNet's Clothing for Faster Inference", ICCV 2021).

A stride-16 stem of four 3x3 conv + BN layers (Hardswish between), then three stages of attention and MLP
residual blocks on the token grid, every linear layer followed by a batch norm, attention with a learned bias
per head and relative offset; stages 1-2 open with a shrinking attention (queries from every second token,
wider values) and an MLP. Every conv/linear + BN pair folds into one layer for inference
(:meth:`LeViT.switch_to_deploy`, ``deploy=True``, ``fovea reparameterize``). MMPretrain's arch table, arguments
and module names (``patch_embed.patch_embed.<2i>``, ``stages.<i>.<j>[.block]``), so its checkpoints load unchanged.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.vision_transformer import _arch, _out_indices
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_activation_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.reparam import fuse_conv_bn
from fovea.registry import MODELS

__all__ = ['LeViT', 'LinearBatchNorm', 'BatchNormLinear', 'FoldsBatchNorms', 'fuse_batch_norms']


def fuse_batch_norms(module: nn.Module) -> None:
    """Replace, below ``module``, every child that has ``fuse()`` by the single layer it folds into."""
    for name, child in module.named_children():
        if callable(getattr(child, 'fuse', None)):
            setattr(module, name, child.fuse())
        else:
            fuse_batch_norms(child)


class FoldsBatchNorms:
    """``switch_to_deploy()`` (``fovea reparameterize``): fold every conv/linear + BN pair below into one layer
    (eval-mode statistics), once; ``_init_deploy(deploy)`` at the end of ``__init__`` builds the folded form."""
    deploy = False

    def _init_deploy(self, deploy: bool) -> None:
        self.deploy = False
        if deploy:
            self.switch_to_deploy()

    def switch_to_deploy(self) -> None:
        if not self.deploy:
            fuse_batch_norms(self)
            self.deploy = True


def _affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) of an eval-mode batch norm: ``bn(x) = scale * x + shift``."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    return scale, bn.bias - bn.running_mean * scale


def _linear(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0]).to(weight.device, weight.dtype)
    layer.weight.data.copy_(weight)
    layer.bias.data.copy_(bias)
    return layer


class ConvolutionBatchNorm(BaseModule):
    """Conv (no bias) -> BN; ``fuse()`` gives the equivalent conv with bias."""

    def __init__(self, in_channel: int, out_channel: int, kernel_size: int = 3, stride: int = 2, pad: int = 1,
                 dilation: int = 1, groups: int = 1, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.conv = nn.Conv2d(in_channel, out_channel, kernel_size, stride, pad, dilation, groups, bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channel)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        weight, bias = fuse_conv_bn(self.conv.weight, self.bn)
        conv = self.conv
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          conv.dilation, conv.groups, bias=True).to(weight.device, weight.dtype)
        fused.weight.data.copy_(weight)
        fused.bias.data.copy_(bias)
        return fused


class LinearBatchNorm(BaseModule):
    """Linear (no bias) -> BN1d over all tokens; ``fuse()`` gives the equivalent linear with bias."""

    def __init__(self, in_feature: int, out_feature: int, norm_cfg: dict = dict(type='BN1d')):
        super().__init__()
        self.linear = nn.Linear(in_feature, out_feature, bias=False)
        self.bn = build_norm_layer(norm_cfg, out_feature)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        return self.bn(x.flatten(0, 1)).reshape_as(x)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        scale, shift = _affine(self.bn)
        return _linear(self.linear.weight * scale[:, None], shift)


class BatchNormLinear(BaseModule):
    """BN1d -> linear (LeViT's classifier); ``fuse()`` gives the equivalent linear."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict = dict(type='BN1d')):
        super().__init__()
        self.bn = build_norm_layer(norm_cfg, in_channels)[1]
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.bn(x))

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        scale, shift = _affine(self.bn)
        w = self.linear.weight
        return _linear(w * scale[None, :], w @ shift + self.linear.bias)


class HybridBackbone(BaseModule):
    """Four stride-2 conv + BN layers, widths dims/8, /4, /2, dims, Hardswish between them."""

    def __init__(self, embed_dim: int, kernel_size: int = 3, stride: int = 2, pad: int = 1, dilation: int = 1,
                 groups: int = 1, act_cfg: dict = dict(type='HSwish'), conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        widths = [3, embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim]
        layers = []
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            layers.append(ConvolutionBatchNorm(c_in, c_out, kernel_size, stride, pad, dilation, groups, norm_cfg))
            if i < len(widths) - 2:
                layers.append(build_activation_layer(act_cfg))
        self.patch_embed = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x)


class Residual(BaseModule):
    def __init__(self, block: nn.Module, drop_path_rate: float = 0.):
        super().__init__()
        self.block = block
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.block(x))


def _offset_index(queries: Sequence[tuple[int, int]], keys: Sequence[tuple[int, int]]) -> tuple[int, torch.Tensor]:
    """(number of distinct |dy|, |dx| offsets, (len(queries), len(keys)) index of each pair's offset), offsets
    numbered in order of first appearance (MMPretrain's and the authors' numbering)."""
    offsets: dict[tuple[int, int], int] = {}
    idxs = [offsets.setdefault((abs(q[0] - k[0]), abs(q[1] - k[1])), len(offsets)) for q in queries for k in keys]
    return len(offsets), torch.tensor(idxs, dtype=torch.long, device='cpu').view(len(queries), len(keys))


class _BiasedAttention(BaseModule):
    """softmax(q k^T / sqrt(key_dim) + attention_biases[:, idx]) v, then Hardswish and a LinearBatchNorm."""

    def _init_bias(self, num_heads: int, queries, keys) -> None:
        n, index = _offset_index(queries, keys)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, n))
        # derived from the resolution: rebuilt, not loaded (MMPretrain's checkpoints carry it)
        self.register_buffer('attention_bias_idxs', index, persistent=False)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        state_dict.pop(prefix + 'attention_bias_idxs', None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.attention_biases[:, self.attention_bias_idxs]
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(q.shape[0], q.shape[2], self.dh))


class Attention(_BiasedAttention):
    def __init__(self, dim: int, key_dim: int, num_heads: int = 8, attn_ratio: float = 4,
                 act_cfg: dict = dict(type='HSwish'), resolution: int = 14):
        super().__init__()
        self.num_heads, self.key_dim, self.scale = num_heads, key_dim, key_dim ** -0.5
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.qkv = LinearBatchNorm(dim, self.dh + 2 * key_dim * num_heads)
        self.proj = nn.Sequential(build_activation_layer(act_cfg), LinearBatchNorm(self.dh, dim))
        points = list(itertools.product(range(resolution), range(resolution)))
        self._init_bias(num_heads, points, points)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, self.num_heads, -1).split([self.key_dim, self.key_dim, self.d], dim=3)
        return self._attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))


class Subsample(BaseModule):
    """Every ``stride``-th token of a ``resolution`` x ``resolution`` grid, in both directions."""

    def __init__(self, stride: int, resolution: int):
        super().__init__()
        self.stride, self.resolution = stride, resolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, C = x.shape
        return x.view(B, self.resolution, self.resolution, C)[:, ::self.stride, ::self.stride].reshape(B, -1, C)


class AttentionSubsample(_BiasedAttention):
    """Attention whose queries come from the subsampled grid: the map shrinks by ``stride``, widens to ``out_dim``."""

    def __init__(self, in_dim: int, out_dim: int, key_dim: int, num_heads: int = 8, attn_ratio: float = 2,
                 act_cfg: dict = dict(type='HSwish'), stride: int = 2, resolution: int = 14):
        super().__init__()
        self.num_heads, self.key_dim, self.scale = num_heads, key_dim, key_dim ** -0.5
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.stride, self.resolution = stride, resolution
        self.sub_resolution = (resolution - 1) // stride + 1
        self.kv = LinearBatchNorm(in_dim, self.dh + key_dim * num_heads)
        self.q = nn.Sequential(Subsample(stride, resolution), LinearBatchNorm(in_dim, key_dim * num_heads))
        self.proj = nn.Sequential(build_activation_layer(act_cfg), LinearBatchNorm(self.dh, out_dim))
        points = list(itertools.product(range(resolution), range(resolution)))
        sub = [(i * stride, j * stride) for i, j in itertools.product(range(self.sub_resolution), repeat=2)]
        self._init_bias(num_heads, sub, points)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        k, v = self.kv(x).view(B, N, self.num_heads, -1).split([self.key_dim, self.d], dim=3)
        q = self.q(x).view(B, self.sub_resolution ** 2, self.num_heads, self.key_dim)
        return self._attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))


class MLP(nn.Sequential):
    """LinearBatchNorm -> Hardswish -> LinearBatchNorm (``linear1``, ``activation``, ``linear2``)."""

    def __init__(self, embed_dim: int, mlp_ratio: int, act_cfg: dict = dict(type='HSwish')):
        super().__init__()
        self.linear1 = LinearBatchNorm(embed_dim, embed_dim * mlp_ratio)
        self.activation = build_activation_layer(act_cfg)
        self.linear2 = LinearBatchNorm(embed_dim * mlp_ratio, embed_dim)


@MODELS.register_module()
class LeViT(FoldsBatchNorms, BaseBackbone):
    """LeViT backbone with MMPretrain's arguments.

    Args:
        arch: '128s', '128', '192', '256', '384', or a dict with embed_dims, num_heads, depths, key_dims
            (one entry per stage).
        img_size / patch_size: the token grid is ``img_size // patch_size`` square (fixed: the attention
            biases are per offset of that grid).
        attn_ratio / mlp_ratio: value width / key width of the blocks' attention, MLP hidden / width.
        act_cfg: the activation (Hardswish).
        out_indices: stages whose token maps are returned as (B, C, H, W).
        deploy: build the inference form (every conv/linear + BN folded).
        drop_path_rate: stochastic depth of every residual block (the same rate for all).
    """
    arch_zoo = {
        '128s': dict(embed_dims=[128, 256, 384], num_heads=[4, 6, 8], depths=[2, 3, 4], key_dims=[16, 16, 16]),
        '128': dict(embed_dims=[128, 256, 384], num_heads=[4, 8, 12], depths=[4, 4, 4], key_dims=[16, 16, 16]),
        '192': dict(embed_dims=[192, 288, 384], num_heads=[3, 5, 6], depths=[4, 4, 4], key_dims=[32, 32, 32]),
        '256': dict(embed_dims=[256, 384, 512], num_heads=[4, 6, 8], depths=[4, 4, 4], key_dims=[32, 32, 32]),
        '384': dict(embed_dims=[384, 512, 768], num_heads=[6, 9, 12], depths=[4, 4, 4], key_dims=[32, 32, 32]),
    }
    prefers_channels_last = False

    def __init__(self, arch: str | dict, img_size: int = 224, patch_size: int = 16, attn_ratio: float = 2,
                 mlp_ratio: int = 2, act_cfg: dict = dict(type='HSwish'), hybrid_backbone: type = HybridBackbone,
                 out_indices: int | Sequence[int] = -1, deploy: bool = False, drop_path_rate: float = 0.,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.arch = _arch(arch, self.arch_zoo, {'embed_dims', 'num_heads', 'depths', 'key_dims'}, 'LeViT')
        self.embed_dims, self.num_heads = self.arch['embed_dims'], self.arch['num_heads']
        self.key_dims, self.depths = self.arch['key_dims'], self.arch['depths']
        self.num_stages = len(self.embed_dims)
        self.drop_path_rate = drop_path_rate
        self.patch_embed = hybrid_backbone(self.embed_dims[0])
        resolution, self.resolutions = img_size // patch_size, []
        self.stages = nn.ModuleList()
        mlp = lambda dims: Residual(MLP(dims, mlp_ratio, act_cfg=act_cfg), drop_path_rate)  # noqa: E731
        for i, (dims, key_dim, depth, heads) in enumerate(zip(self.embed_dims, self.key_dims, self.depths,
                                                              self.num_heads)):
            blocks = []
            if i > 0:
                down = AttentionSubsample(self.embed_dims[i - 1], dims, key_dim, self.embed_dims[i - 1] // key_dim,
                                          attn_ratio=4, act_cfg=act_cfg, stride=2, resolution=resolution)
                resolution = down.sub_resolution
                blocks += [down] + ([mlp(dims)] if mlp_ratio > 0 else [])
            self.resolutions.append(resolution)
            for _ in range(depth):
                blocks.append(Residual(Attention(dims, key_dim, heads, attn_ratio, act_cfg, resolution),
                                       drop_path_rate))
                if mlp_ratio > 0:
                    blocks.append(mlp(dims))
            self.stages.append(nn.Sequential(*blocks))
        self.out_indices = tuple(_out_indices(out_indices, self.num_stages, 'LeViT'))
        self.stage_channels = tuple(self.embed_dims)
        self.stage_reductions = tuple(patch_size * 2 ** i for i in range(self.num_stages))
        self._init_deploy(deploy)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                side = self.resolutions[i]
                outs.append(x.reshape(x.shape[0], side, side, -1).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

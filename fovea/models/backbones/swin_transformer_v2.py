"""Swin Transformer V2 (Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", CVPR 2022).

Swin with residual post-norm blocks (``x + norm(attn(x))``), scaled cosine window attention with a
continuous position bias (:class:`~fovea.models.layers.window_attention.WindowMSAV2`), patch merging at the
start of stages 1-3 normalising after its reduction, and (huge, giant) an extra LayerNorm every 6 blocks.
MMPretrain's arguments, arch names and state-dict names (``stages.N.downsample``, ``stages.N.blocks.M``,
``normN``), so its configs and checkpoints load unchanged.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.swin_transformer import SwinTransformer
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.patch_embed import PatchMerging, to_2tuple
from fovea.models.layers.transformer import FFN
from fovea.models.layers.window_attention import ShiftWindowMSA, WindowMSAV2
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['SwinTransformerV2', 'SwinBlockV2', 'SwinBlockV2Sequence']


class SwinBlockV2(BaseModule):
    """``x + norm1(attn(x))`` then ``x + norm2(ffn(x))`` (stochastic depth inside both branches, before the
    norm, as MMPretrain), then ``norm3`` when ``extra_norm``."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 8, shift: bool = False,
                 extra_norm: bool = False, ffn_ratio: float = 4., drop_path: float = 0., pad_small_map: bool = False,
                 attn_cfgs: dict | None = None, ffn_cfgs: dict | None = None, norm_cfg: dict = dict(type='LN'),
                 with_cp: bool = False, pretrained_window_size: int = 0, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.with_cp, self.extra_norm = with_cp, extra_norm
        self.attn = ShiftWindowMSA(**{
            'embed_dims': embed_dims, 'num_heads': num_heads, 'window_size': window_size,
            'shift_size': window_size // 2 if shift else 0,
            'dropout_layer': dict(type='DropPath', drop_prob=drop_path), 'pad_small_map': pad_small_map,
            **(attn_cfgs or {}), 'window_msa': WindowMSAV2,
            'pretrained_window_size': to_2tuple(pretrained_window_size)})
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(**{
            'embed_dims': embed_dims, 'feedforward_channels': int(embed_dims * ffn_ratio), 'num_fcs': 2,
            'ffn_drop': 0., 'dropout_layer': dict(type='DropPath', drop_prob=drop_path), 'act_cfg': dict(type='GELU'),
            'add_identity': False, **(ffn_cfgs or {})})
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        if extra_norm:
            self.norm3 = build_norm_layer(norm_cfg, embed_dims)[1]

    def _inner_forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.norm1(self.attn(x, hw_shape))
        x = x + self.norm2(self.ffn(x))
        return self.norm3(x) if self.extra_norm else x

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, hw_shape, use_reentrant=False)
        return self._inner_forward(x, hw_shape)


class SwinBlockV2Sequence(BaseModule):
    """One stage: an optional patch merging (to twice the width), then ``depth`` blocks (alternately
    shifted; every ``extra_norm_every_n_blocks``-th with an extra norm)."""

    def __init__(self, embed_dims: int, depth: int, num_heads: int, window_size: int = 8, downsample: bool = False,
                 downsample_cfg: dict | None = None, drop_paths: float | Sequence[float] = 0.,
                 block_cfgs: dict | Sequence[dict] | None = None, with_cp: bool = False, pad_small_map: bool = False,
                 extra_norm_every_n_blocks: int = 0, pretrained_window_size: int = 0, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if not isinstance(drop_paths, Sequence):
            drop_paths = [drop_paths] * depth
        if block_cfgs is None or isinstance(block_cfgs, dict):
            block_cfgs = [deepcopy(block_cfgs or {}) for _ in range(depth)]
        self.out_channels = 2 * embed_dims if downsample else embed_dims
        self.downsample = None if not downsample else PatchMerging(**{
            'in_channels': embed_dims, 'out_channels': self.out_channels, 'norm_cfg': dict(type='LN'),
            **(downsample_cfg or {})})
        every = extra_norm_every_n_blocks
        self.blocks = nn.ModuleList(
            SwinBlockV2(**{'embed_dims': self.out_channels, 'num_heads': num_heads, 'window_size': window_size,
                           'shift': i % 2 == 1, 'extra_norm': bool(every) and (i + 1) % every == 0,
                           'drop_path': drop_paths[i], 'with_cp': with_cp, 'pad_small_map': pad_small_map,
                           'pretrained_window_size': pretrained_window_size, **block_cfgs[i]})
            for i in range(depth))

    def forward(self, x: torch.Tensor, in_shape: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.downsample is not None:
            x, in_shape = self.downsample(x, in_shape)
        for block in self.blocks:
            x = block(x, in_shape)
        return x, in_shape


@MODELS.register_module()
class SwinTransformerV2(SwinTransformer):
    """Swin Transformer V2 with MMPretrain's arguments (those of :class:`SwinTransformer` but
    ``out_after_downsample``, plus):

    Args:
        arch: 'tiny' .. 'large' as Swin, 'huge', 'giant' (or the first letters), or a dict with embed_dims,
            depths, num_heads and extra_norm_every_n_blocks.
        img_size / window_size: 256 and 8 by default; ``window_size`` may be a list, one per stage.
        pretrained_window_sizes: per stage, the window the weights were trained with (0: this one), for
            fine-tuning at larger windows.
    """

    arch_zoo = {
        **{k: dict(v, extra_norm_every_n_blocks=0) for k, v in SwinTransformer.arch_zoo.items()},
        **dict.fromkeys(['h', 'huge'], dict(embed_dims=352, depths=[2, 2, 18, 2], num_heads=[8, 16, 32, 64],
                                            extra_norm_every_n_blocks=6)),
        **dict.fromkeys(['g', 'giant'], dict(embed_dims=512, depths=[2, 2, 42, 4], num_heads=[16, 32, 64, 128],
                                             extra_norm_every_n_blocks=6)),
    }
    _ARCH_KEYS = {'embed_dims', 'depths', 'num_heads', 'extra_norm_every_n_blocks'}

    def __init__(self, arch: str | dict = 'tiny', img_size: int | Sequence[int] = 256, patch_size: int = 4,
                 in_channels: int = 3, window_size: int | Sequence[int] = 8, drop_rate: float = 0.,
                 drop_path_rate: float = 0.1, out_indices: Sequence[int] = (3,), use_abs_pos_embed: bool = False,
                 interpolate_mode: str = 'bicubic', with_cp: bool = False, frozen_stages: int = -1,
                 norm_eval: bool = False, pad_small_map: bool = False, norm_cfg: dict | None = dict(type='LN'),
                 stage_cfgs: dict | Sequence[dict] | None = None, patch_cfg: dict | None = None,
                 pretrained_window_sizes: Sequence[int] = (0, 0, 0, 0), init_cfg: dict | list | None = None):
        if isinstance(arch, dict) and set(arch) != self._ARCH_KEYS:
            raise ConfigError(f'A custom SwinTransformerV2 arch must be a dict with keys {sorted(self._ARCH_KEYS)}, '
                              f'got {arch!r}.')
        # plain attributes _build_stage reads while the base class builds the stages
        settings = self.arch_zoo.get(arch.lower(), {}) if isinstance(arch, str) else arch
        depths = settings.get('depths', ())
        self.extra_norm_every_n_blocks = settings.get('extra_norm_every_n_blocks', 0)
        self.window_sizes = [window_size] * len(depths) if isinstance(window_size, int) else list(window_size)
        self.pretrained_window_sizes = list(pretrained_window_sizes)
        if depths and not len(self.window_sizes) == len(self.pretrained_window_sizes) == len(depths):
            raise ConfigError(f'SwinTransformerV2 needs one window_size and pretrained_window_sizes entry per stage '
                              f'({len(depths)}), got {window_size} and {list(pretrained_window_sizes)}')
        # every stage's output passes its (leading) patch merging: widths are the stages' out_channels
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                         drop_rate=drop_rate, drop_path_rate=drop_path_rate, out_indices=out_indices,
                         out_after_downsample=True, use_abs_pos_embed=use_abs_pos_embed,
                         interpolate_mode=interpolate_mode, with_cp=with_cp, frozen_stages=frozen_stages,
                         norm_eval=norm_eval, pad_small_map=pad_small_map, norm_cfg=norm_cfg, stage_cfgs=stage_cfgs,
                         patch_cfg=patch_cfg, init_cfg=init_cfg)
        self.stage_reductions = tuple(patch_size * 2 ** i for i in range(self.num_layers))

    def _build_stage(self, i: int, **kwargs) -> nn.Module:
        """Stage ``i``: a patch merging (all but the first stage), then its blocks."""
        kwargs.update(window_size=self.window_sizes[i])
        return SwinBlockV2Sequence(**{'downsample': i > 0, 'extra_norm_every_n_blocks': self.extra_norm_every_n_blocks,
                                      'pretrained_window_size': self.pretrained_window_sizes[i],
                                      'downsample_cfg': dict(use_post_norm=True), **kwargs})

    def _forward_tokens(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        x = self._add_position(x, hw_shape)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape)
            if i in self.out_indices:
                outs.append(self._output(i, x, hw_shape))
        return tuple(outs)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """As Swin's, but a stage's patch merging comes before its first block."""
        name = param_name[len(prefix):] if param_name.startswith(prefix) else ''
        parts = name.split('.')
        if len(parts) > 2 and parts[0] == 'stages' and parts[2] == 'downsample':
            return sum(self.depths[:int(parts[1])]), sum(self.depths) + 2
        return super().get_layer_depth(param_name, prefix)

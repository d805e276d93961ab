"""Swin Transformer (Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021).

MMPretrain's arguments, arch names and state-dict names (``stages.N.blocks.M.attn.w_msa``,
``stages.N.downsample``, ``normN``). Maps that are not a multiple of the window are padded; a map
smaller than the window is refused as in MMPretrain unless ``pad_small_map=True`` pads it.
"""
from __future__ import annotations

import logging
from copy import deepcopy
from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.vision_transformer import _arch, _linspace, _out_indices
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.patch_embed import PatchEmbed, PatchMerging, resize_pos_embed
from fovea.models.layers.transformer import FFN
from fovea.models.layers.window_attention import ShiftWindowMSA
from fovea.registry import MODELS

__all__ = ['SwinTransformer', 'SwinBlock', 'SwinBlockSequence']

logger = logging.getLogger('fovea')


class SwinBlock(BaseModule):
    """One Swin block: ``x + (S)W-MSA(norm1(x))`` then ``x + FFN(norm2(x))``.

    Args:
        embed_dims / num_heads / window_size: token width, heads, window side.
        shift: shift the windows by half a window (every second block).
        ffn_ratio: FFN hidden width / embed_dims.
        drop_path: stochastic depth of both branches.
        pad_small_map: see :class:`~fovea.models.layers.ShiftWindowMSA`.
        attn_cfgs / ffn_cfgs: extra arguments of the attention / FFN.
        norm_cfg: norm layers.
        with_cp: gradient checkpointing.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int = 7, shift: bool = False,
                 ffn_ratio: float = 4., drop_path: float = 0., pad_small_map: bool = False,
                 attn_cfgs: dict | None = None, ffn_cfgs: dict | None = None, norm_cfg: dict = dict(type='LN'),
                 with_cp: bool = False, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(**{
            'embed_dims': embed_dims, 'num_heads': num_heads, 'window_size': window_size,
            'shift_size': window_size // 2 if shift else 0,
            'dropout_layer': dict(type='DropPath', drop_prob=drop_path), 'pad_small_map': pad_small_map,
            **(attn_cfgs or {})})
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(**{
            'embed_dims': embed_dims, 'feedforward_channels': int(embed_dims * ffn_ratio), 'num_fcs': 2,
            'ffn_drop': 0., 'dropout_layer': dict(type='DropPath', drop_prob=drop_path),
            'act_cfg': dict(type='GELU'), **(ffn_cfgs or {})})

    def _inner_forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return self.ffn(self.norm2(x), identity=x)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, hw_shape, use_reentrant=False)
        return self._inner_forward(x, hw_shape)


class SwinBlockSequence(BaseModule):
    """One stage: ``depth`` blocks (alternately shifted) and an optional PatchMerging downsample."""

    def __init__(self, embed_dims: int, depth: int, num_heads: int, window_size: int = 7, downsample: bool = False,
                 downsample_cfg: dict | None = None, drop_paths: float | Sequence[float] = 0.,
                 block_cfgs: dict | Sequence[dict] | None = None, with_cp: bool = False, pad_small_map: bool = False,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if not isinstance(drop_paths, Sequence):
            drop_paths = [drop_paths] * depth
        if block_cfgs is None or isinstance(block_cfgs, dict):
            block_cfgs = [deepcopy(block_cfgs or {}) for _ in range(depth)]
        self.embed_dims = embed_dims
        self.blocks = nn.ModuleList(
            SwinBlock(**{'embed_dims': embed_dims, 'num_heads': num_heads, 'window_size': window_size,
                         'shift': i % 2 == 1, 'drop_path': drop_paths[i], 'with_cp': with_cp,
                         'pad_small_map': pad_small_map, **block_cfgs[i]})
            for i in range(depth))
        if downsample:
            self.downsample = PatchMerging(**{'in_channels': embed_dims, 'out_channels': 2 * embed_dims,
                                              'norm_cfg': dict(type='LN'), **(downsample_cfg or {})})
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor, in_shape: tuple[int, int], do_downsample: bool = True):
        for block in self.blocks:
            x = block(x, in_shape)
        if self.downsample is not None and do_downsample:
            return self.downsample(x, in_shape)
        return x, in_shape

    @property
    def out_channels(self) -> int:
        return self.downsample.out_channels if self.downsample is not None else self.embed_dims


@MODELS.register_module()
class SwinTransformer(BaseBackbone):
    """Swin Transformer: a 4x4 patch embedding and four stages of (shifted) window attention with
    2x2 patch merging between them.

    Args:
        arch: 'tiny'/'small'/'base'/'large' (or 't'/'s'/'b'/'l'), or a dict with embed_dims, depths,
            num_heads.
        img_size: input size the model is built for (sets the absolute position embedding grid).
        patch_size: patch embedding stride (4).
        in_channels: image channels.
        window_size: attention window side (7 for 224px models, 12 for 384px).
        drop_rate: dropout after the patch embedding.
        drop_path_rate: stochastic depth, rising linearly over all blocks.
        out_indices: stages whose (normalised) output maps are returned.
        out_after_downsample: return a stage's output after its patch merging.
        use_abs_pos_embed: add a learned absolute position embedding.
        interpolate_mode: its interpolation to other input sizes.
        with_cp: gradient checkpointing.
        frozen_stages: freeze the patch embedding and stages 0..N (-1 freezes nothing).
        norm_eval: keep batch norms in eval mode (no effect with LN).
        pad_small_map: pad maps smaller than the window instead of refusing them.
        norm_cfg: the output norms (``norm{i}``); None for none.
        stage_cfgs / patch_cfg: extra arguments of the stages / patch embedding.
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24])),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24])),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32])),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48])),
    }
    num_extra_tokens = 0

    def __init__(self, arch: str | dict = 'tiny', img_size: int | Sequence[int] = 224, patch_size: int = 4,
                 in_channels: int = 3, window_size: int = 7, drop_rate: float = 0., drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (3,), out_after_downsample: bool = False,
                 use_abs_pos_embed: bool = False, interpolate_mode: str = 'bicubic', with_cp: bool = False,
                 frozen_stages: int = -1, norm_eval: bool = False, pad_small_map: bool = False,
                 norm_cfg: dict | None = dict(type='LN'), stage_cfgs: dict | Sequence[dict] | None = None,
                 patch_cfg: dict | None = None, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.arch_settings = _arch(arch, self.arch_zoo, {'embed_dims', 'depths', 'num_heads'}, type(self).__name__)
        self.embed_dims = self.arch_settings['embed_dims']
        self.depths = list(self.arch_settings['depths'])
        self.num_heads = list(self.arch_settings['num_heads'])
        self.num_layers = len(self.depths)
        self.out_indices = _out_indices(out_indices, self.num_layers, type(self).__name__)
        self.out_after_downsample = out_after_downsample
        self.use_abs_pos_embed = use_abs_pos_embed
        self.interpolate_mode = interpolate_mode
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        _patch_cfg = dict(in_channels=in_channels, input_size=img_size, embed_dims=self.embed_dims,
                          conv_type='Conv2d', kernel_size=patch_size, stride=patch_size, norm_cfg=dict(type='LN'))
        _patch_cfg.update(patch_cfg or {})
        self.patch_embed = PatchEmbed(**_patch_cfg)
        self.patch_resolution = self.patch_embed.init_out_size
        if use_abs_pos_embed:
            n = self.patch_resolution[0] * self.patch_resolution[1]
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, n, self.embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        dpr = _linspace(drop_path_rate, sum(self.depths))
        self.stages = nn.ModuleList()
        embed_dims = [self.embed_dims]
        for i, (depth, num_heads) in enumerate(zip(self.depths, self.num_heads)):
            stage_cfg = (stage_cfgs[i] if isinstance(stage_cfgs, Sequence) else deepcopy(stage_cfgs or {}))
            stage = self._build_stage(i, **{
                'embed_dims': embed_dims[-1], 'depth': depth, 'num_heads': num_heads, 'window_size': window_size,
                'drop_paths': dpr[:depth], 'with_cp': with_cp, 'pad_small_map': pad_small_map, **stage_cfg})
            self.stages.append(stage)
            dpr = dpr[depth:]
            embed_dims.append(stage.out_channels)
        self.num_features = embed_dims[1:] if out_after_downsample else embed_dims[:-1]
        for i in self.out_indices:
            norm = build_norm_layer(norm_cfg, self.num_features[i])[1] if norm_cfg is not None else nn.Identity()
            self.add_module(f'norm{i}', norm)
        self.stage_channels = tuple(self.num_features)
        self.stage_reductions = tuple(patch_size * 2 ** (i + out_after_downsample) for i in range(self.num_layers))

    def _build_stage(self, i: int, **kwargs) -> nn.Module:
        """Stage ``i``: its blocks, then a patch merging (all but the last stage)."""
        return SwinBlockSequence(**{'downsample': i < self.num_layers - 1, **kwargs})

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.use_abs_pos_embed:
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Fit a checkpoint to this model: older MMPretrain/MMClassification Swin checkpoints (format
        versions 1-2) call the last output norm ``norm`` and keep ``attn_mask`` buffers, which are
        renamed / dropped as MMPretrain's loader does; the absolute position embedding is interpolated
        to this model's patch grid (window bias tables are fitted by each
        :class:`~fovea.models.layers.WindowMSA`)."""
        last = len(self.stages) - 1
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if rest in ('norm.weight', 'norm.bias') and f'{prefix}norm{last}.{rest[5:]}' not in state_dict:
                state_dict[f'{prefix}norm{last}.{rest[5:]}'] = state_dict.pop(key)
            elif rest.startswith('stages.') and rest.endswith('.attn_mask'):
                del state_dict[key]  # derived from the window shift, rebuilt by the model
        name = prefix + 'absolute_pos_embed'
        if not self.use_abs_pos_embed or name not in state_dict:
            return
        ckpt = state_dict[name]
        if ckpt.shape != self.absolute_pos_embed.shape and ckpt.ndim == 3:
            side = int(round(ckpt.shape[1] ** 0.5))
            logger.info('Resized %s from %s to %s by %s interpolation.', name, tuple(ckpt.shape),
                        tuple(self.absolute_pos_embed.shape), self.interpolate_mode)
            state_dict[name] = resize_pos_embed(ckpt, (side, side), self.patch_resolution, self.interpolate_mode, 0)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._forward_tokens(*self.patch_embed(x))

    def _forward_tokens(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        """Everything after the patch embedding, from its tokens (B, N, C) on an ``hw_shape`` grid
        (masked image modelling replaces some of them first)."""
        x = self._add_position(x, hw_shape)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape = stage(x, hw_shape, do_downsample=self.out_after_downsample)
            if i in self.out_indices:
                outs.append(self._output(i, x, hw_shape))
            if stage.downsample is not None and not self.out_after_downsample:
                x, hw_shape = stage.downsample(x, hw_shape)
        return tuple(outs)

    def _add_position(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        """Patch tokens -> the first stage's input: the absolute position embedding (if any), dropout."""
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(self.absolute_pos_embed, self.patch_resolution, hw_shape,
                                     self.interpolate_mode, self.num_extra_tokens)
        return self.drop_after_pos(x)

    def _output(self, i: int, x: torch.Tensor, hw_shape: tuple[int, int]) -> torch.Tensor:
        """Stage ``i``'s tokens through ``norm{i}``, as a (B, C, H, W) map."""
        out = getattr(self, f'norm{i}')(x)
        return out.view(-1, *hw_shape, self.num_features[i]).permute(0, 3, 1, 2).contiguous()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            self.patch_embed.eval()
            for p in self.patch_embed.parameters():
                p.requires_grad = False
            if self.use_abs_pos_embed:
                self.absolute_pos_embed.requires_grad = False
        for i in range(0, self.frozen_stages + 1):
            self.stages[i].eval()
            for p in self.stages[i].parameters():
                p.requires_grad = False
        for i in self.out_indices:
            if i <= self.frozen_stages:
                for p in getattr(self, f'norm{i}').parameters():
                    p.requires_grad = False

    @property
    def selectable_indices(self) -> tuple[int, ...]:
        return tuple(self.out_indices)  # each output has its own norm layer

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """(depth, num_depths) for layer-wise lr decay: 0 for the patch embedding, one depth per
        block, patch merging with the last block of its stage, the rest (norms, head) last."""
        num_layers = sum(self.depths) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'absolute_pos_embed')):
            return 0, num_layers
        if name.startswith('stages.'):
            parts = name.split('.')
            stage_id, block_id = int(parts[1]), parts[3]
            if parts[2] == 'downsample' or block_id in ('reduction', 'norm'):
                return sum(self.depths[:stage_id + 1]), num_layers
            return sum(self.depths[:stage_id]) + int(block_id) + 1, num_layers
        return num_layers - 1, num_layers

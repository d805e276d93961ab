"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
Recognition at Scale", ICLR 2021) and the DeiT sizes (Touvron et al., "Training data-efficient image
transformers & distillation through attention", ICML 2021).

MMPretrain's constructor arguments, arch names and state-dict names (``patch_embed.projection``,
``layers.N.attn.qkv``, ``ln1``), so MMPretrain configs and checkpoints work unchanged.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.patch_embed import PatchEmbed, resize_pos_embed, to_2tuple
from fovea.models.layers.transformer import TransformerEncoderLayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigTypeError, did_you_mean

__all__ = ['VisionTransformer']

logger = logging.getLogger('fovea')


def _arch(arch: str | dict, zoo: dict[str, dict], essential: set[str], owner: str) -> dict:
    if isinstance(arch, str):
        key = arch.lower()
        if key not in zoo:
            raise ConfigError(f'{owner} has no arch {arch!r} (not in default archs).{did_you_mean(key, zoo)} '
                              f'Choose from {", ".join(sorted(zoo))}, or pass a dict with {sorted(essential)}.')
        return dict(zoo[key])
    if not isinstance(arch, dict) or not essential <= set(arch):
        raise ConfigError(f'A custom {owner} arch must be a dict with keys {sorted(essential)}, got {arch!r}.')
    return dict(arch)


def _linspace(end: float, n: int) -> list[float]:
    """Stochastic depth rates rising linearly from 0 to ``end`` over ``n`` layers (no tensor, so
    models can be built on the meta device)."""
    return [end * i / (n - 1) if n > 1 else 0. for i in range(n)]


def _out_indices(out_indices: int | Sequence[int], num: int, owner: str) -> list[int]:
    if not isinstance(out_indices, (int, Sequence)) or isinstance(out_indices, str):  # e.g. a dict
        raise ConfigTypeError(f'{owner} out_indices must be an int or a sequence of ints, '
                              f'got {type(out_indices).__name__} {out_indices!r}.')
    idx = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    out = []
    for i in idx:
        j = num + i if i < 0 else i
        if not 0 <= j < num:
            raise ConfigError(f'{owner} out_indices entry {i} is out of range for {num} layers/stages.')
        out.append(j)
    return out


@MODELS.register_module()
class VisionTransformer(BaseBackbone):
    """Vision Transformer: patch embedding + class token + learned position embedding + pre-norm layers.

    Args:
        arch: 'tiny'/'small'/'base'/'large'/'huge' (and one-letter forms), 'deit-tiny'/'deit-small'/
            'deit-base', or a dict with embed_dims, num_layers, num_heads, feedforward_channels.
            ('small' is MMPretrain's 8-layer 768-wide ViT; 'tiny' is ViT-Ti = DeiT-Ti.)
        img_size: the input size the position embedding is built for; other sizes are run by
            interpolating it (``interpolate_mode``).
        patch_size: 8, 14, 16, 32, ... (any int).
        in_channels: image channels.
        out_indices: layers whose output is returned (negative counts from the end).
        drop_rate: dropout after the position embedding and inside the layers.
        drop_path_rate: stochastic depth, rising linearly to this value over the layers.
        qkv_bias: bias of the qkv projections.
        norm_cfg: norm layers (LN, eps 1e-6 by default).
        final_norm: norm after the last layer (``ln1``).
        out_type: 'cls_token' (B, C), 'featmap' (B, C, H, W) patch tokens, 'avg_featmap' (B, C)
            mean of patch tokens through ``ln2``, or 'raw' (B, 1 + N, C).
        with_cls_token: prepend a class token (required for ``out_type='cls_token'``).
        frozen_stages: freeze the embedding and the first N layers (-1 freezes nothing).
        interpolate_mode: position embedding interpolation ('bicubic').
        layer_scale_init_value: > 0 enables LayerScale.
        patch_cfg / layer_cfgs: extra arguments of the patch embedding / every (or each) layer.
        pre_norm: a norm before the layers (CLIP); removes the patch projection bias.
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny', 'deit-t', 'deit-tiny'],
                        dict(embed_dims=192, num_layers=12, num_heads=3, feedforward_channels=768)),
        **dict.fromkeys(['s', 'small'],
                        dict(embed_dims=768, num_layers=8, num_heads=8, feedforward_channels=768 * 3)),
        **dict.fromkeys(['deit-s', 'deit-small', 'dinov2-s', 'dinov2-small'],
                        dict(embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536)),
        **dict.fromkeys(['b', 'base', 'deit-b', 'deit-base'],
                        dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'],
                        dict(embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096)),
        **dict.fromkeys(['h', 'huge'],
                        dict(embed_dims=1280, num_layers=32, num_heads=16, feedforward_channels=5120)),
    }
    num_extra_tokens = 1  # the class token
    OUT_TYPES = ('raw', 'cls_token', 'featmap', 'avg_featmap')

    def __init__(self, arch: str | dict = 'base', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 in_channels: int = 3, out_indices: int | Sequence[int] = -1, drop_rate: float = 0.,
                 drop_path_rate: float = 0., qkv_bias: bool = True, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True, out_type: str = 'cls_token', with_cls_token: bool = True,
                 frozen_stages: int = -1, interpolate_mode: str = 'bicubic', layer_scale_init_value: float = 0.,
                 patch_cfg: dict | None = None, layer_cfgs: dict | Sequence[dict] | None = None,
                 pre_norm: bool = False, init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        owner = type(self).__name__
        self.arch_settings = _arch(arch, self.arch_zoo,
                                   {'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'}, owner)
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        self.img_size = to_2tuple(img_size)
        if out_type not in self.OUT_TYPES:
            raise ConfigError(f'{owner} out_type={out_type!r} is not one of {self.OUT_TYPES}.'
                              f'{did_you_mean(str(out_type), self.OUT_TYPES)}')
        self.out_type = out_type

        _patch_cfg = dict(in_channels=in_channels, input_size=img_size, embed_dims=self.embed_dims,
                          conv_type='Conv2d', kernel_size=patch_size, stride=patch_size, bias=not pre_norm)
        _patch_cfg.update(patch_cfg or {})
        self.patch_embed = PatchEmbed(**_patch_cfg)
        self.patch_resolution = self.patch_embed.init_out_size
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]

        self.with_cls_token = with_cls_token
        if with_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        elif out_type == 'cls_token':
            raise ConfigError(f"{owner}: with_cls_token must be True when out_type='cls_token'.")
        else:
            self.cls_token = None
            self.num_extra_tokens = self.num_extra_tokens - 1
        self.interpolate_mode = interpolate_mode
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + self.num_extra_tokens, self.embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        self.out_indices = _out_indices(out_indices, self.num_layers, owner)
        dpr = _linspace(drop_path_rate, self.num_layers)
        if layer_cfgs is None or isinstance(layer_cfgs, dict):
            layer_cfgs = [dict(layer_cfgs or {})] * self.num_layers
        self.layers = nn.ModuleList()
        for i in range(self.num_layers):
            cfg = dict(embed_dims=self.embed_dims, num_heads=self.arch_settings['num_heads'],
                       feedforward_channels=self.arch_settings['feedforward_channels'],
                       layer_scale_init_value=layer_scale_init_value, drop_rate=drop_rate,
                       drop_path_rate=dpr[i], qkv_bias=qkv_bias, norm_cfg=norm_cfg)
            cfg.update(layer_cfgs[i])
            self.layers.append(TransformerEncoderLayer(**cfg))

        self.frozen_stages = frozen_stages
        self.pre_norm = build_norm_layer(norm_cfg, self.embed_dims)[1] if pre_norm else nn.Identity()
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        if out_type == 'avg_featmap':
            self.ln2 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        self.stage_channels = (self.embed_dims,) * self.num_layers  # one output per layer
        self.stage_reductions = (patch_size if out_type == 'featmap' else None,) * self.num_layers
        if frozen_stages > 0:
            self._freeze_stages()

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Fit a checkpoint's ``pos_embed`` to this model: drop a class-token entry the model does not
        have, and interpolate the patch grid when the checkpoint was trained at another resolution."""
        name = prefix + 'pos_embed'
        if name not in state_dict:
            return
        ckpt = state_dict[name]
        if not self.with_cls_token and ckpt.shape[1] == self.pos_embed.shape[1] + 1:
            ckpt = ckpt[:, 1:]
        if ckpt.shape != self.pos_embed.shape and ckpt.ndim == 3 and ckpt.shape[2] == self.pos_embed.shape[2]:
            n = ckpt.shape[1] - self.num_extra_tokens
            side = int(round(n ** 0.5))
            if side * side == n:
                logger.info('Resized %s from %s (%dx%d patch grid) to %s (%dx%d grid) by %s interpolation.',
                            name, tuple(ckpt.shape), side, side, tuple(self.pos_embed.shape),
                            *self.patch_resolution, self.interpolate_mode)
                ckpt = resize_pos_embed(ckpt, (side, side), self.patch_resolution, self.interpolate_mode,
                                        self.num_extra_tokens)
        state_dict[name] = ckpt

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ freezing
    def _freeze_stages(self) -> None:
        if self.frozen_stages <= 0:
            return
        if self.pos_embed is not None:          # BEiT's ViT may have none
            self.pos_embed.requires_grad = False
        for m in (self.patch_embed, self.pre_norm, self.drop_after_pos):
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        for name in ('cls_token', 'dist_token'):
            t = getattr(self, name, None)
            if isinstance(t, nn.Parameter):
                t.requires_grad = False
        for layer in self.layers[:self.frozen_stages]:
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False
        if self.frozen_stages >= len(self.layers):
            for name in ('ln1', 'ln2'):
                m = getattr(self, name, None)
                if m is not None:
                    m.eval()
                    for p in m.parameters():
                        p.requires_grad = False

    # ------------------------------------------------------------------ forward
    def _extra_tokens(self, B: int) -> list[torch.Tensor]:
        return [self.cls_token.expand(B, -1, -1)] if self.cls_token is not None else []

    def forward(self, x: torch.Tensor) -> tuple:
        x, patch_resolution = self.patch_embed(x)
        x = self._embed_tokens(x, patch_resolution)
        outs = []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == last and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, patch_resolution))
        return tuple(outs)

    def _embed_tokens(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Patch tokens (B, N, C) on an ``hw`` grid -> the first layer's input: the extra tokens
        prepended, the position embedding (resized to ``hw``) added, dropout and the pre-norm."""
        extra = self._extra_tokens(x.shape[0])
        if extra:
            x = torch.cat([*extra, x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                                 mode=self.interpolate_mode, num_extra_tokens=self.num_extra_tokens)
        return self.pre_norm(self.drop_after_pos(x))

    def _encode_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Every layer and the final norm on a token sequence (B, L, C): the last layer's tokens
        (what masked-image-modelling backbones run on their visible or mask-filled tokens)."""
        for layer in self.layers:
            x = layer(x)
        return self.ln1(x) if self.final_norm else x

    def _format_output(self, x: torch.Tensor, hw: tuple[int, int]):
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patch_token = x[:, self.num_extra_tokens:]
        if self.out_type == 'featmap':
            return patch_token.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2)
        return self.ln2(patch_token.mean(dim=1))  # avg_featmap

    # ------------------------------------------------------------------ layer-wise lr decay
    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """(depth, num_depths) of a parameter for layer-wise learning-rate decay.

        Depth 0 is the embedding (patch embedding, tokens, position embedding), layer ``i`` is
        ``i + 1``, and everything after the layers (final norm, head) is ``num_layers + 1``.
        """
        num_layers = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed', 'dist_token') or name.startswith(('patch_embed', 'pre_norm')):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

"""BEiT's Vision Transformer (Bao et al., "BEiT: BERT Pre-Training of Image Transformers", ICLR 2022;
Peng et al., "BEiT v2: Masked Image Modeling with Vector-Quantized Visual Tokenizers", 2022).

A ViT whose attention adds a learned relative position bias (per layer, or one table shared by all
layers), with biases on q and v only (``bias='qv_bias'``), LayerScale on both residual branches
(``gamma_1``/``gamma_2``) and, by default, no absolute position embedding. MMPretrain's
``BEiTViT`` arguments and state-dict names (``layers.N.attn.q_bias``,
``layers.N.attn.relative_position_bias_table``, ``rel_pos_bias.relative_position_bias_table``), so its
configs and checkpoints load unchanged. It is also the backbone of CAE and of BEiT v2's tokenizer.
"""
from __future__ import annotations

import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.vision_transformer import VisionTransformer, _arch, _linspace, _out_indices
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.models.layers.patch_embed import (PatchEmbed, resize_pos_embed, resize_relative_position_bias_table,
                                             to_2tuple)
from fovea.models.layers.transformer import FFN, build_dropout
from fovea.models.layers.window_attention import relative_position_index
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['BEiTViT', 'BEiTAttention', 'BEiTTransformerEncoderLayer', 'RelativePositionBias']

logger = logging.getLogger('fovea')


def beit_relative_position_index(window_size: Sequence[int], with_cls_token: bool = True) -> torch.Tensor:
    """Indices into a ``(2Wh-1)(2Ww-1) + 3`` row table for (1 + Wh*Ww) tokens: the patch pairs read the
    relative-offset rows, and the last three rows are cls->patch, patch->cls and cls->cls."""
    idx = relative_position_index(tuple(window_size))
    if not with_cls_token:
        return idx
    n = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) + 3
    out = torch.zeros((idx.shape[0] + 1,) * 2, dtype=idx.dtype)
    out[1:, 1:] = idx
    out[0, 0:] = n - 3
    out[0:, 0] = n - 2
    out[0, 0] = n - 1
    return out


class _BiasTable:
    """A relative position bias table and its index; ``position_bias()`` is the (heads, N, N) additive bias."""

    def _init_table(self, window_size: Sequence[int], num_heads: int, with_cls_token: bool = True) -> None:
        self.window_size = tuple(window_size)
        self.num_relative_distance = ((2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
                                      + (3 if with_cls_token else 0))
        self.relative_position_bias_table = nn.Parameter(torch.zeros(self.num_relative_distance, num_heads))
        self.register_buffer('relative_position_index',
                             beit_relative_position_index(self.window_size, with_cls_token))

    def position_bias(self) -> torch.Tensor:
        n = self.relative_position_index.shape[0]
        table = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return table.view(n, n, -1).permute(2, 0, 1).contiguous()


class RelativePositionBias(_BiasTable, BaseModule):
    """One relative position bias shared by every layer (``use_shared_rel_pos_bias=True``)."""

    def __init__(self, window_size: Sequence[int], num_heads: int, with_cls_token: bool = True):
        BaseModule.__init__(self)
        self._init_table(window_size, num_heads, with_cls_token)

    def forward(self) -> torch.Tensor:
        return self.position_bias()


class BEiTAttention(_BiasTable, BaseModule):
    """Multi-head self-attention with an optional own relative position bias and q/v-only biases.

    Args:
        embed_dims / num_heads: width and heads.
        window_size: the patch grid (needed when ``use_rel_pos_bias``).
        use_rel_pos_bias: this layer owns a bias table (else it may get a shared one in ``forward``).
        bias: True (qkv bias), False, or 'qv_bias' (learned q and v biases, k bias fixed at 0).
        qk_scale: softmax temperature (default ``head_dims ** -0.5``).
        attn_drop_rate / proj_drop_rate: dropout on the attention weights / after the projection.

    ``forward(x, rel_pos_bias=None)``: ``rel_pos_bias`` (heads, N, N) is added to the logits.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: Sequence[int] | None,
                 use_rel_pos_bias: bool, bias: bool | str = 'qv_bias', qk_scale: float | None = None,
                 attn_drop_rate: float = 0., proj_drop_rate: float = 0., init_cfg: dict | None = None, **kwargs):
        BaseModule.__init__(self, init_cfg)
        if embed_dims % num_heads:
            raise ConfigError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}.')
        self.embed_dims, self.num_heads = embed_dims, num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.bias = bias
        if bias == 'qv_bias':
            self.q_bias = nn.Parameter(torch.zeros(embed_dims))
            self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        self.use_rel_pos_bias = use_rel_pos_bias
        if use_rel_pos_bias:
            if window_size is None:
                raise ConfigError('BEiTAttention: use_rel_pos_bias=True needs window_size (the patch grid).')
            self._init_table(window_size, num_heads)
        else:
            self.window_size = None
            self.relative_position_bias_table = None
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=bias is True)
        self.attn_drop = attn_drop_rate
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate) if proj_drop_rate > 0 else nn.Identity()

    def init_weights(self) -> None:
        super().init_weights()
        if self.use_rel_pos_bias:
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, rel_pos_bias: torch.Tensor | None = None) -> torch.Tensor:
        B, N, C = x.shape
        if self.bias == 'qv_bias':
            qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
            qkv = F.linear(x, self.qkv.weight, qkv_bias)
        else:
            qkv = self.qkv(x)
        q, k, v = qkv.reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn_bias = None
        if self.relative_position_bias_table is not None:
            attn_bias = self.position_bias().unsqueeze(0)
        if rel_pos_bias is not None:
            attn_bias = rel_pos_bias if attn_bias is None else attn_bias + rel_pos_bias
        if attn_bias is not None:
            attn_bias = attn_bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=self.scale,
                                             dropout_p=self.attn_drop if self.training else 0.)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class BEiTTransformerEncoderLayer(BaseModule):
    """``x + drop_path(gamma_1 * attn(ln1(x)))`` then ``x + drop_path(gamma_2 * ffn(ln2(x)))``.

    Args (MMPretrain's): embed_dims, num_heads, feedforward_channels, layer_scale_init_value (<= 0 or
    None: no LayerScale), window_size, use_rel_pos_bias, drop_rate, attn_drop_rate, drop_path_rate,
    num_fcs, bias, act_cfg, norm_cfg, attn_cfg / ffn_cfg (extra arguments of the two branches).
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 layer_scale_init_value: float | None, window_size: Sequence[int] | None, use_rel_pos_bias: bool,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0., num_fcs: int = 2,
                 bias: bool | str = 'qv_bias', act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='LN'),
                 attn_cfg: dict | None = None, ffn_cfg: dict | None = None, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = BEiTAttention(**{**dict(embed_dims=embed_dims, num_heads=num_heads, window_size=window_size,
                                            use_rel_pos_bias=use_rel_pos_bias, bias=bias,
                                            attn_drop_rate=attn_drop_rate, proj_drop_rate=drop_rate),
                                     **(attn_cfg or {})})
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(**{**dict(embed_dims=embed_dims, feedforward_channels=feedforward_channels, num_fcs=num_fcs,
                                 ffn_drop=drop_rate, act_cfg=act_cfg, add_identity=False), **(ffn_cfg or {})})
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=float(drop_path_rate)))
        if layer_scale_init_value is not None and layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(torch.full((embed_dims,), float(layer_scale_init_value)))
            self.gamma_2 = nn.Parameter(torch.full((embed_dims,), float(layer_scale_init_value)))
        else:
            self.gamma_1 = self.gamma_2 = None

    @property
    def norm1(self) -> nn.Module:
        return self.ln1

    @property
    def norm2(self) -> nn.Module:
        return self.ln2

    def init_weights(self) -> None:
        super().init_weights()
        for m in self.ffn.modules():  # MMPretrain's FFN initialisation (as TransformerEncoderLayer)
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: torch.Tensor, rel_pos_bias: torch.Tensor | None = None) -> torch.Tensor:
        a = self.attn(self.ln1(x), rel_pos_bias=rel_pos_bias)
        x = x + self.drop_path(a if self.gamma_1 is None else self.gamma_1 * a)
        f = self.ffn(self.ln2(x))
        return x + self.drop_path(f if self.gamma_2 is None else self.gamma_2 * f)


def rescale_residual_init(layers: Sequence[BEiTTransformerEncoderLayer], first_layer_id: int = 1) -> None:
    """BEiT's initialisation: divide each layer's output projections by sqrt(2 * layer_id)."""
    with torch.no_grad():
        for i, layer in enumerate(layers):
            for w in (layer.attn.proj.weight, layer.ffn.layers[1].weight):
                w.div_((2.0 * (first_layer_id + i)) ** 0.5)


@MODELS.register_module()
class BEiTViT(VisionTransformer):
    """BEiT's ViT (MMPretrain's arguments and defaults).

    Args beyond :class:`VisionTransformer`'s: ``bias`` ('qv_bias', True or False),
    ``use_abs_pos_emb`` (learned absolute position embedding, default off),
    ``use_rel_pos_bias`` (a bias table per layer), ``use_shared_rel_pos_bias`` (one table for all
    layers, ``rel_pos_bias``); ``layer_scale_init_value`` defaults to 0.1, ``out_type`` to
    'avg_featmap' and ``final_norm`` to False. Arch names: 'small', 'base', 'large', 'eva-giant',
    'deit-tiny', 'deit-small', 'deit-base'.

    Loading a checkpoint with a shared table into a model with per-layer tables copies it into every
    layer; tables of another patch grid are resized (the three cls rows kept).
    """

    arch_zoo = {
        **dict.fromkeys(['s', 'small'], dict(embed_dims=768, num_layers=8, num_heads=8, feedforward_channels=768 * 3)),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096)),
        **dict.fromkeys(['eva-g', 'eva-giant'],
                        dict(embed_dims=1408, num_layers=40, num_heads=16, feedforward_channels=6144)),
        **dict.fromkeys(['deit-t', 'deit-tiny'],
                        dict(embed_dims=192, num_layers=12, num_heads=3, feedforward_channels=768)),
        **dict.fromkeys(['deit-s', 'deit-small'],
                        dict(embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536)),
        **dict.fromkeys(['deit-b', 'deit-base'],
                        dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072)),
    }
    num_extra_tokens = 1

    def __init__(self, arch: str | dict = 'base', img_size: int | Sequence[int] = 224, patch_size: int = 16,
                 in_channels: int = 3, out_indices: int | Sequence[int] = -1, drop_rate: float = 0.,
                 drop_path_rate: float = 0., bias: bool | str = 'qv_bias',
                 norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = False,
                 out_type: str = 'avg_featmap', with_cls_token: bool = True, frozen_stages: int = -1,
                 use_abs_pos_emb: bool = False, use_rel_pos_bias: bool = True, use_shared_rel_pos_bias: bool = False,
                 interpolate_mode: str = 'bicubic', layer_scale_init_value: float | None = 0.1,
                 patch_cfg: dict | None = None, layer_cfgs: dict | Sequence[dict] | None = None,
                 init_cfg: dict | list | None = None):
        BaseBackbone.__init__(self, init_cfg)
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
        self.patch_embed = PatchEmbed(**{**dict(in_channels=in_channels, input_size=img_size,
                                                embed_dims=self.embed_dims, conv_type='Conv2d',
                                                kernel_size=patch_size, stride=patch_size), **(patch_cfg or {})})
        self.patch_resolution = self.patch_embed.init_out_size
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]

        self.with_cls_token = with_cls_token
        if with_cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        elif out_type == 'cls_token':
            raise ConfigError(f"{owner}: with_cls_token must be True when out_type='cls_token'.")
        else:
            self.cls_token = None
            self.num_extra_tokens = 0
        self.interpolate_mode = interpolate_mode
        self.pos_embed = (nn.Parameter(torch.zeros(1, num_patches + self.num_extra_tokens, self.embed_dims))
                          if use_abs_pos_emb else None)
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        self.pre_norm = nn.Identity()

        if use_rel_pos_bias and use_shared_rel_pos_bias:
            raise ConfigError(f'{owner}: use_rel_pos_bias and use_shared_rel_pos_bias cannot both be True '
                              '(a table per layer, or one shared table).')
        self.use_rel_pos_bias = use_rel_pos_bias
        self.rel_pos_bias = (RelativePositionBias(self.patch_resolution, self.arch_settings['num_heads'])
                             if use_shared_rel_pos_bias else None)

        self.out_indices = _out_indices(out_indices, self.num_layers, owner)
        dpr = _linspace(drop_path_rate, self.num_layers)
        if layer_cfgs is None or isinstance(layer_cfgs, dict):
            layer_cfgs = [dict(layer_cfgs or {})] * self.num_layers
        self.layers = nn.ModuleList(
            BEiTTransformerEncoderLayer(**{**dict(
                embed_dims=self.embed_dims, num_heads=self.arch_settings['num_heads'],
                feedforward_channels=self.arch_settings['feedforward_channels'],
                layer_scale_init_value=layer_scale_init_value, window_size=self.patch_resolution,
                use_rel_pos_bias=use_rel_pos_bias, drop_rate=drop_rate, drop_path_rate=dpr[i], bias=bias,
                norm_cfg=norm_cfg), **layer_cfgs[i]})
            for i in range(self.num_layers))

        self.frozen_stages = frozen_stages
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        if out_type == 'avg_featmap':
            self.ln2 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        self.stage_channels = (self.embed_dims,) * self.num_layers
        self.stage_reductions = (patch_size if out_type == 'featmap' else None,) * self.num_layers
        if frozen_stages > 0:
            self._freeze_stages()

    @property
    def norm1(self) -> nn.Module:
        return self.ln1

    @property
    def norm2(self) -> nn.Module:
        return self.ln2

    def init_weights(self) -> None:
        BaseBackbone.init_weights(self)
        if self.pos_embed is not None and not (isinstance(self.init_cfg, dict)
                                               and self.init_cfg.get('type') == 'Pretrained'):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Fit a checkpoint to this model: its position embedding (as ViT), a shared relative position
        table copied into every layer's own table, and tables of another patch grid resized."""
        if self.pos_embed is not None:
            super().adapt_state_dict(state_dict, prefix)
        shared = prefix + 'rel_pos_bias.relative_position_bias_table'
        if self.use_rel_pos_bias and shared in state_dict:
            logger.info('Copied the shared relative position bias %s into each of the %d layers.', shared,
                        self.num_layers)
            table = state_dict.pop(shared)
            state_dict.pop(prefix + 'rel_pos_bias.relative_position_index', None)
            for i in range(self.num_layers):
                state_dict[f'{prefix}layers.{i}.attn.relative_position_bias_table'] = table.clone()
        for name, param in self.named_parameters():
            key = prefix + name
            if not name.endswith('relative_position_bias_table') or key not in state_dict:
                continue
            ckpt = state_dict[key]
            if ckpt.ndim != 2 or ckpt.shape == param.shape or ckpt.shape[1] != param.shape[1]:
                continue
            src, dst = int(round((ckpt.shape[0] - 3) ** 0.5)), int(round((param.shape[0] - 3) ** 0.5))
            if src * src + 3 != ckpt.shape[0] or dst * dst + 3 != param.shape[0]:
                continue
            new = resize_relative_position_bias_table(src, dst, ckpt[:-3])
            state_dict[key] = torch.cat((new, ckpt[-3:]), dim=0)
            state_dict.pop(key.replace('bias_table', 'index'), None)   # the model's own index is kept
            logger.info('Resized %s from %s to %s.', key, tuple(ckpt.shape), tuple(state_dict[key].shape))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        self.adapt_state_dict(state_dict, prefix)
        for name, buf in self.named_buffers():          # the index buffers are derived from the grid
            key = prefix + name
            if name.endswith('relative_position_index') and key not in state_dict:
                state_dict[key] = buf
        BaseBackbone._load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                           unexpected_keys, error_msgs)

    def embed(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patch tokens (masked ones replaced by ``self.mask_token`` where ``mask`` is given), the class
        token and the absolute position embedding; returns the tokens and the patch grid."""
        x, hw = self.patch_embed(x)
        if mask is not None:
            w = mask.flatten(1).unsqueeze(-1).type_as(x)
            x = x * (1. - w) + self.mask_token.to(x.dtype) * w
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.pos_embed is not None:
            x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw, mode=self.interpolate_mode,
                                     num_extra_tokens=self.num_extra_tokens)
        return self.drop_after_pos(x), hw

    def shared_bias(self) -> torch.Tensor | None:
        """The shared relative position bias (heads, N, N), or None."""
        return self.rel_pos_bias() if self.rel_pos_bias is not None else None

    def forward(self, x: torch.Tensor) -> tuple:
        x, hw = self.embed(x)
        return tuple(self._format_output(t, hw) for t in self._run_layers(x))

    def _run_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        bias = self.shared_bias()
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x, rel_pos_bias=bias)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(x)
        return outs

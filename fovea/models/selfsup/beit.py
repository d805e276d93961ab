"""BEiT v1 and v2: masked image modelling against a tokenizer's discrete codes.

BEiT v1 (Bao et al., ICLR 2022) predicts, for each masked patch, the code that DALL-E's discrete VAE
encoder gives the (smaller) second view of the crop; BEiT v2 (Peng et al., 2022) predicts the codes
of a vector-quantised tokenizer distilled from CLIP (VQ-KD), from the last layer and, through two
extra layers on an early layer's patch tokens, from the class token (``BEiTV2Neck``).

MMPretrain's names, arguments and state-dict keys: ``BEiT``, ``BEiTPretrainViT``, ``DALL-E``
(:class:`DALLEEncoder`), ``VQKD``. The tokenizers are built with random weights; the real ones come
from the user (``target_generator.init_cfg=dict(type='Pretrained', checkpoint=...)``, MMPretrain's
``dalle_encoder.pth`` / ``vqkd_encoder.pth``). Their codes are targets only: they run without
gradients, and fovea never updates VQ-KD's codebook while training BEiT (MMPretrain's quantizer,
left in training mode, moves its codebook towards each batch's features by EMA).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.backbones.beit import BEiTViT, rescale_residual_init
from fovea.models.base import BaseModule
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

__all__ = ['BEiT', 'BEiTPretrainViT', 'DALLEEncoder', 'VQKD', 'NormEMAVectorQuantizer', 'stack_masks']


def stack_masks(data_samples: Sequence[DataSample] | None, owner: str, device: torch.device) -> torch.Tensor:
    """The samples' ``mask`` fields as one (B, ...) bool tensor, or a clear error naming the fix."""
    if not data_samples or 'mask' not in data_samples[0]:
        raise ConfigError(f'{owner} needs a patch mask per image (DataSample.mask), but the batch has none: put a '
                          "mask generator (e.g. dict(type='BEiTMaskGenerator', input_size=(14, 14), "
                          'num_masking_patches=75)) before PackInputs in train_dataloader.dataset.pipeline.')
    return torch.stack([torch.as_tensor(s.mask) for s in data_samples]).to(device=device, dtype=torch.bool)


@MODELS.register_module()
class BEiTPretrainViT(BEiTViT):
    """BEiT's ViT for pre-training: masked patches are replaced by a learned ``mask_token``.

    :class:`BEiTViT`'s arguments with MMPretrain's pre-training defaults (``final_norm=True``,
    ``out_type='raw'``, ``use_shared_rel_pos_bias=True``, ``use_rel_pos_bias=False``,
    ``patch_cfg=dict(padding=0)``). ``forward(x, mask)``: with a (B, h, w) mask, the raw tokens
    (B, 1 + h*w, C) of each ``out_indices`` layer; with ``mask=None``, :class:`BEiTViT`'s outputs.
    """

    def __init__(self, arch: str | dict = 'base', img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0., drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), final_norm: bool = True, out_type: str = 'raw',
                 frozen_stages: int = -1, use_abs_pos_emb: bool = False, use_rel_pos_bias: bool = False,
                 use_shared_rel_pos_bias: bool = True, layer_scale_init_value: float = 0.1,
                 interpolate_mode: str = 'bicubic', patch_cfg: dict = dict(padding=0),
                 layer_cfgs: dict | Sequence[dict] | None = None, init_cfg: dict | list | None = None):
        super().__init__(arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                         out_indices=out_indices, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                         norm_cfg=norm_cfg, final_norm=final_norm, out_type=out_type, with_cls_token=True,
                         frozen_stages=frozen_stages, use_abs_pos_emb=use_abs_pos_emb,
                         use_rel_pos_bias=use_rel_pos_bias, use_shared_rel_pos_bias=use_shared_rel_pos_bias,
                         layer_scale_init_value=layer_scale_init_value, interpolate_mode=interpolate_mode,
                         patch_cfg=patch_cfg, layer_cfgs=layer_cfgs, init_cfg=init_cfg)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        rescale_residual_init(self.layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple:
        if mask is None:
            return super().forward(x)
        x, _ = self.embed(x, mask)
        return tuple(self._run_layers(x))


# ---------------------------------------------------------------------------------------- DALL-E
class _DALLEConv(nn.Module):
    """DALL-E's convolution: ``w``/``b`` parameters, 'same' padding, fp16 on CUDA when asked."""

    def __init__(self, n_in: int, n_out: int, kw: int, use_float16: bool = True, device=None,
                 requires_grad: bool = False):
        super().__init__()
        w = torch.empty((n_out, n_in, kw, kw), device=device)
        if w.device.type != 'meta':
            w.normal_(std=1 / math.sqrt(n_in * kw ** 2))
        self.w = nn.Parameter(w, requires_grad=requires_grad)
        self.b = nn.Parameter(torch.zeros(n_out, device=device), requires_grad=requires_grad)
        self.kw = kw
        self.use_float16 = use_float16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.w, self.b
        if self.use_float16 and w.device.type == 'cuda':
            x, w, b = x.half(), w.half(), b.half()
        else:
            x = x.float()
        return F.conv2d(x, w, b, padding=(self.kw - 1) // 2)


class _DALLEBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, n_layers: int, device=None, requires_grad: bool = False):
        super().__init__()
        hid = n_out // 4
        self.post_gain = 1 / (n_layers ** 2)
        conv = lambda i, o, k: _DALLEConv(i, o, k, device=device, requires_grad=requires_grad)  # noqa: E731
        self.id_path = conv(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.res_path = nn.Sequential(OrderedDict([
            ('relu_1', nn.ReLU()), ('conv_1', conv(n_in, hid, 3)), ('relu_2', nn.ReLU()), ('conv_2', conv(hid, hid, 3)),
            ('relu_3', nn.ReLU()), ('conv_3', conv(hid, hid, 3)), ('relu_4', nn.ReLU()), ('conv_4', conv(hid, n_out, 1))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.id_path(x) + self.post_gain * self.res_path(x)


@MODELS.register_module(name='DALL-E')
class DALLEEncoder(BaseModule):
    """DALL-E's discrete VAE encoder (Ramesh et al., "Zero-Shot Text-to-Image Generation", 2021): an
    image (B, 3, H, W) -> code logits (B, vocab_size, H/8, W/8). Registered as ``'DALL-E'``.

    Args: group_count, n_hid, n_blk_per_group, input_channels, vocab_size, device, requires_grad
    (MMPretrain's; parameters are frozen by default).
    """

    def __init__(self, group_count: int = 4, n_hid: int = 256, n_blk_per_group: int = 2, input_channels: int = 3,
                 vocab_size: int = 8192, device=None, requires_grad: bool = False,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        self.input_channels = input_channels
        n_layers = group_count * n_blk_per_group
        groups, width = [], n_hid
        for g in range(group_count):
            out = n_hid * 2 ** g
            blocks = [(f'block_{i + 1}', _DALLEBlock(width if i == 0 else out, out, n_layers, device, requires_grad))
                      for i in range(n_blk_per_group)]
            if g < group_count - 1:
                blocks.append(('pool', nn.MaxPool2d(kernel_size=2)))
            groups.append((f'group_{g + 1}', nn.Sequential(OrderedDict(blocks))))
            width = out
        self.blocks = nn.Sequential(OrderedDict([
            ('input', _DALLEConv(input_channels, n_hid, 7, device=device, requires_grad=requires_grad)),
            *groups,
            ('output', nn.Sequential(OrderedDict([
                ('relu', nn.ReLU()),
                ('conv', _DALLEConv(width, vocab_size, 1, use_float16=False, device=device,
                                    requires_grad=requires_grad))]))),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.input_channels:
            raise ValueError(f'DALL-E encoder: expected (B, {self.input_channels}, H, W) images, got {tuple(x.shape)}')
        return self.blocks(x.float())


# ---------------------------------------------------------------------------------------- VQ-KD
class _Codebook(nn.Module):
    """VQ-KD's codebook (MMPretrain's ``EmbeddingEMA`` names: ``weight``, ``initted``)."""

    def __init__(self, num_tokens: int, codebook_dim: int, kmeans_init: bool = True):
        super().__init__()
        weight = torch.zeros(num_tokens, codebook_dim)
        if not kmeans_init and weight.device.type != 'meta':
            weight = F.normalize(torch.randn(num_tokens, codebook_dim), dim=-1)
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.register_buffer('initted', torch.tensor([float(not kmeans_init)]))

    @torch.no_grad()
    def init_from(self, data: torch.Tensor, iters: int = 10) -> None:
        """Spherical k-means on the first batch's features, when the codebook was never set."""
        if bool(self.initted):
            return
        n = self.weight.shape[0]
        idx = torch.randperm(len(data), device=data.device)[:n] if len(data) >= n else \
            torch.randint(0, len(data), (n,), device=data.device)
        means = data[idx]
        for _ in range(iters):
            buckets = (data @ means.t()).argmax(-1)
            bins = torch.bincount(buckets, minlength=n)
            new = torch.zeros_like(means).index_add_(0, buckets, data) / bins.clamp(min=1)[:, None]
            means = torch.where((bins == 0)[:, None], means, F.normalize(new, dim=-1))
        self.weight.copy_(means)
        self.initted.fill_(1.)


class NormEMAVectorQuantizer(nn.Module):
    """Nearest-code quantisation of L2-normalised features (VQ-KD's quantizer, encoding only).

    ``forward(z)`` with z (B, C, h, w) returns ``(z_q, loss, indices)`` as MMPretrain's: the
    straight-through quantised features, ``beta * mse(z_q, z)`` and the (B*h*w,) code indices. A
    codebook that was never set (``kmeans_init=True`` and no checkpoint) is set by k-means on the
    first batch. The EMA codebook update of tokenizer training is not implemented.
    """

    def __init__(self, num_embed: int, embed_dims: int, beta: float, decay: float = 0.99,
                 statistic_code_usage: bool = True, kmeans_init: bool = True, codebook_init_path: str | None = None):
        super().__init__()
        if codebook_init_path is not None:
            raise ConfigError('VQKD codebook_init_path is not supported: load the codebook with the tokenizer '
                              "checkpoint (target_generator.init_cfg=dict(type='Pretrained', checkpoint=...)).")
        self.codebook_dim, self.num_tokens, self.beta, self.decay = embed_dims, num_embed, beta, decay
        self.embedding = _Codebook(num_embed, embed_dims, kmeans_init)
        if statistic_code_usage:
            self.register_buffer('cluster_size', torch.zeros(num_embed))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = F.normalize(z.permute(0, 2, 3, 1), dim=-1)
        flat = z.reshape(-1, self.codebook_dim)
        self.embedding.init_from(flat)
        codes = self.embedding.weight
        d = flat.pow(2).sum(1, keepdim=True) + codes.pow(2).sum(1) - 2 * flat @ codes.t()
        indices = d.argmin(1)
        z_q = F.embedding(indices, codes).view(z.shape)
        loss = self.beta * F.mse_loss(z_q.detach(), z)
        z_q = z + (z_q - z).detach()
        return z_q.permute(0, 3, 1, 2), loss, indices


@MODELS.register_module()
class VQKD(BaseModule):
    """BEiT v2's tokenizer: a :class:`BEiTViT` encoder, a task layer and a normalised codebook;
    ``forward(x)`` gives each patch's code index (B, h*w).

    Args: encoder_config (BEiTViT arguments, ``out_type='featmap'``), decoder_config (not built:
    encoding is all BEiT v2 needs), num_embed (8192), embed_dims (32), decay, beta,
    quantize_kmeans_init.
    """

    def __init__(self, encoder_config: dict, decoder_config: dict | None = None, num_embed: int = 8192,
                 embed_dims: int = 32, decay: float = 0.99, beta: float = 1.0, quantize_kmeans_init: bool = True,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg)
        if decoder_config is not None:
            raise ConfigError('VQKD builds only the encoder (what BEiT v2 uses); remove decoder_config.')
        self.encoder = BEiTViT(**encoder_config)
        self.quantize = NormEMAVectorQuantizer(num_embed=num_embed, embed_dims=embed_dims, beta=beta, decay=decay,
                                               kmeans_init=quantize_kmeans_init)
        width = self.encoder.arch_settings['embed_dims']
        self.encode_task_layer = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, embed_dims))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(quantised features, code indices, quantisation loss)."""
        feats = self.encoder(x)[0]
        if feats.ndim != 4:
            raise ConfigError("VQKD encoder_config needs out_type='featmap' (the patch feature map).")
        B, C, h, w = feats.shape
        feats = feats.flatten(2).transpose(1, 2)
        with torch.autocast(feats.device.type, enabled=False):
            z = self.encode_task_layer(feats.float())
        quantize, loss, indices = self.quantize(z.transpose(1, 2).reshape(B, -1, h, w))
        return quantize, indices, loss

    def get_tokens(self, x: torch.Tensor) -> dict:
        _, indices, _ = self.encode(x)
        return {'token': indices.view(x.shape[0], -1), 'input_img': x}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.get_tokens(x)['token']


# ---------------------------------------------------------------------------------------- algorithm
@MODELS.register_module()
class BEiT(BaseSelfSupervisor):
    """BEiT v1 (no neck, ``BEiTV1Head``, DALL-E target) and v2 (``BEiTV2Neck``, ``BEiTV2Head``, VQKD).

    Takes two views: the image and the tokenizer's view of the same crop
    (``RandomResizedCropAndInterpolationWithTwoPic``, normalised by ``TwoNormDataPreprocessor``), and
    each sample's patch mask (``BEiTMaskGenerator``). Losses: v1 ``loss``; v2 ``loss_1`` (last layer)
    and ``loss_2`` (class token through the neck's layers on early patch tokens).
    """

    num_views = 2

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def loss(self, inputs: list[torch.Tensor], data_samples: Sequence[DataSample] | None = None,
             **kwargs) -> dict[str, torch.Tensor]:
        img, target_img = self.views(inputs)
        mask = stack_masks(data_samples, type(self).__name__, img.device)
        latent = self.backbone(img, mask)
        with torch.no_grad():
            target = self.target_generator(target_img).detach()
        if self.with_neck:
            feats, feats_cls_pt = self.neck(latent, rel_pos_bias=self.backbone.shared_bias())
            loss_1, loss_2 = self.head.loss(feats, feats_cls_pt, target, mask)
            return dict(loss_1=loss_1, loss_2=loss_2)
        return dict(loss=self.head.loss(latent[0], target, mask))

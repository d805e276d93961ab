"""CLIP's modified ResNet image tower (Radford et al., ICML 2021): a 3-convolution stem with an average
pool, anti-aliased strided blocks (an average pool before the strided convolution and in the
shortcut) and attention pooling in place of global average pooling (RN50, RN101, RN50x4, ...).

State-dict names are OpenAI's / open_clip's (``conv1``...``bn3``, ``layerN.M``, ``downsample.0``,
``attnpool.{q,k,v,c}_proj``), so their ``visual.`` weights load by name.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.layers.patch_embed import resize_pos_embed
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['ModifiedResNet', 'AttentionPool2d']


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != out:
            self.downsample = nn.Sequential(OrderedDict([
                ('-1', nn.AvgPool2d(stride)), ('0', nn.Conv2d(inplanes, out, 1, bias=False)),
                ('1', nn.BatchNorm2d(out))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.avgpool(self.act2(self.bn2(self.conv2(out))))
        out = self.bn3(self.conv3(out))
        return self.act3(out + (x if self.downsample is None else self.downsample(x)))


class AttentionPool2d(nn.Module):
    """One attention step whose query is the mean token: (B, C, H, W) -> (B, output_dim).

    The position embedding is built for ``spacial_dim`` x ``spacial_dim`` maps and interpolated
    (bicubic) for other sizes.
    """

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int | None = None):
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError(f'AttentionPool2d embed_dim={embed_dim} is not divisible by heads={num_heads}.')
        self.spacial_dim = spacial_dim
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
        pos = self.positional_embedding[None]
        if pos.shape[1] != x.shape[1]:
            pos = resize_pos_embed(pos, (self.spacial_dim, self.spacial_dim), (H, W), 'bicubic', 1)
        x = x + pos.to(x.dtype)
        heads = self.num_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, t.shape[1], heads, -1).transpose(1, 2)
        q = split(self.q_proj(x[:, :1]))
        out = F.scaled_dot_product_attention(q, split(self.k_proj(x)), split(self.v_proj(x)))
        return self.c_proj(out.transpose(1, 2).reshape(B, C))


#: blocks per stage of MMPretrain's ``depth`` argument (its Chinese CLIP configs)
ARCH_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


@MODELS.register_module()
class ModifiedResNet(nn.Module):
    """CLIP's ResNet image tower (open_clip's arguments, or MMPretrain's).

    Args:
        layers: blocks per stage, e.g. (3, 4, 6, 3) for RN50, (3, 4, 23, 3) for RN101.
        output_dim: embedding width after attention pooling (1024 for RN50).
        heads: attention-pooling heads (default ``width * 32 // 64``, as OpenAI's models).
        image_size: the input size the pooling position embedding is built for.
        width: stem width (64 for RN50, 80 for RN50x4, ...).
        depth / base_channels / input_size / num_attn_heads: MMPretrain's names (its ``ChineseCLIP`` configs) for
            ``layers`` (50, 101 or 152), ``width``, ``image_size`` and ``heads``.

    ``forward(x)`` -> ``(embedding,)`` of shape (B, output_dim).
    """

    def __init__(self, layers: Sequence[int] | None = None, output_dim: int = 1024, heads: int | None = None,
                 image_size: int = 224, width: int = 64, depth: int | None = None, base_channels: int | None = None,
                 input_size: int | None = None, num_attn_heads: int | None = None):
        super().__init__()
        if depth is not None:
            if depth not in ARCH_DEPTHS:
                raise ConfigError(f'ModifiedResNet depth={depth} is not one of {sorted(ARCH_DEPTHS)}.')
            if layers is not None and tuple(layers) != ARCH_DEPTHS[depth]:
                raise ConfigError(f'ModifiedResNet: layers={layers!r} and depth={depth} disagree; give one of them.')
            layers = ARCH_DEPTHS[depth]
        if layers is None:
            raise ConfigError('ModifiedResNet needs layers (blocks per stage, e.g. [3, 4, 6, 3]) or depth (50, 101, '
                              '152).')
        width = base_channels if base_channels is not None else width
        image_size = input_size if input_size is not None else image_size
        heads = num_attn_heads if num_attn_heads is not None else heads if heads is not None else width * 32 // 64
        if len(layers) != 4:
            raise ConfigError(f'ModifiedResNet layers must list 4 stages, got {layers!r}.')
        if image_size % 32:
            raise ConfigError(f'ModifiedResNet image_size must be a multiple of 32, got {image_size}.')
        self.output_dim = output_dim
        self.image_size = image_size
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.act3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        inplanes = width
        for i, blocks in enumerate(layers):
            planes = width * 2 ** i
            stage = [_Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * _Bottleneck.expansion
            stage += [_Bottleneck(inplanes, planes) for _ in range(1, blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*stage))
        self.attnpool = AttentionPool2d(image_size // 32, width * 32, heads, output_dim)

    def init_weights(self) -> None:
        """OpenAI's initialisation: attention pooling projections ~ N(0, C^-1/2), last BN of each block 0."""
        std = self.attnpool.c_proj.in_features ** -0.5
        for m in (self.attnpool.q_proj, self.attnpool.k_proj, self.attnpool.v_proj, self.attnpool.c_proj):
            nn.init.normal_(m.weight, std=std)
        for name, p in self.named_parameters():
            if name.startswith('layer') and name.endswith('bn3.weight'):
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.avgpool(self.act3(self.bn3(self.conv3(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return (self.attnpool(x),)

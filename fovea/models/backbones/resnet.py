"""ResNet and its stem variants (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

* :class:`ResNet` - the torchvision/MMPretrain "v1b" layout: a 7x7 stride-2 stem conv and max-pool,
  then four stages of :class:`BasicBlock` (18/34) or :class:`Bottleneck` (50/101/152) blocks,
  stride on the 3x3 conv (``style='pytorch'``) or on the first 1x1 conv (``style='caffe'``).
* :class:`ResNetV1c` - three 3x3 convs in the stem (He et al., "Bag of Tricks for Image
  Classification with Convolutional Neural Networks", CVPR 2019).
* :class:`ResNetV1d` - the V1c stem plus average-pool-then-1x1-conv shortcuts when downsampling.
* :class:`ResNet_CIFAR` - a 3x3 stride-1 stem without max-pool for 32x32 images.

ResNeXt and SE-ResNet(X) reuse these blocks (``groups``/``width_per_group`` and ``se_ratio``);
see ``resnext.py`` and ``seresnet.py``. Module names follow MMPretrain (``conv1``, ``bn1``,
``layer1.0.conv1``, ``layer1.0.downsample.0``, ``stem.0.conv`` ...), so its checkpoints load as they are.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.layers.conv import ConvModule, build_activation_layer, build_conv_layer, build_norm_layer
from fovea.models.layers.drop import DropPath
from fovea.models.layers.freeze import freeze_module
from fovea.models.layers.se import SELayer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigKeyError, ConfigTypeError

__all__ = ['BasicBlock', 'Bottleneck', 'get_expansion', 'ResLayer', 'ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNet_CIFAR']

_DEFAULT_INIT = [dict(type='Kaiming', layer=['Conv2d']),
                 dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]


class _ResBlock(nn.Module):
    """Shared parts of the residual blocks: norm accessors, shortcut, drop path, checkpointing."""

    norm_names: tuple[str, ...] = ()

    def _finish(self, x: torch.Tensor, residual_fn) -> torch.Tensor:
        def inner(t: torch.Tensor) -> torch.Tensor:
            identity = t if self.downsample is None else self.downsample(t)
            return self.drop_path(residual_fn(t)) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        return self.relu(out)

    @property
    def last_norm(self) -> nn.Module:
        """The norm whose zero initialisation makes the block an identity map."""
        return getattr(self, self.norm_names[-1])


class BasicBlock(_ResBlock):
    """Two 3x3 convs with a shortcut (ResNet-18/34).

    Args:
        in_channels / out_channels: block input/output channels.
        expansion: ``out_channels / mid_channels``; always 1 for this block.
        stride / dilation: of the first conv.
        downsample: the shortcut projection, or None for identity.
        style: unused (kept for the same signature as :class:`Bottleneck`).
        drop_path_rate: stochastic depth probability of the residual branch.
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 1, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch', with_cp: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU', inplace=True), drop_path_rate: float = 0.0):
        super().__init__()
        if expansion != 1:
            raise ConfigError(f'BasicBlock has expansion 1, got {expansion}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mid_channels = out_channels
        self.expansion, self.stride, self.dilation, self.style = expansion, stride, dilation, style
        self.with_cp = with_cp
        (n1, norm1), (n2, norm2) = (build_norm_layer(norm_cfg, out_channels, postfix=i) for i in (1, 2))
        self.norm_names = (n1, n2)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, out_channels, 3, stride=stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.add_module(n1, norm1)
        self.conv2 = build_conv_layer(conv_cfg, out_channels, out_channels, 3, padding=1, bias=False)
        self.add_module(n2, norm2)
        self.relu = build_activation_layer(act_cfg)
        self.downsample = downsample
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 1e-5 else nn.Identity()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm_names[0])

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm_names[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def residual(t: torch.Tensor) -> torch.Tensor:
            return self.norm2(self.conv2(self.relu(self.norm1(self.conv1(t)))))
        return self._finish(x, residual)


class Bottleneck(_ResBlock):
    """1x1 reduce -> 3x3 -> 1x1 expand, with a shortcut (ResNet-50/101/152).

    The same block serves ResNeXt (``groups > 1``: the 3x3 conv is grouped and its width is
    ``groups * width_per_group * mid_channels / base_channels``) and SE-ResNet(X) (``se_ratio``:
    a squeeze-and-excitation gate after the last norm).

    Args:
        expansion: ``out_channels / mid_channels`` (4).
        style: 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1 conv.
        groups / width_per_group / base_channels: ResNeXt cardinality and width.
        se_ratio: squeeze ratio of the SE gate; None for no gate.
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 4, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch', with_cp: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU', inplace=True), drop_path_rate: float = 0.0,
                 groups: int = 1, width_per_group: int = 4, base_channels: int = 64, se_ratio: int | None = None):
        super().__init__()
        if style not in ('pytorch', 'caffe'):
            raise ConfigError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        if out_channels % expansion:
            raise ConfigError(f'out_channels={out_channels} is not divisible by expansion={expansion}')
        self.in_channels, self.out_channels = in_channels, out_channels
        mid = out_channels // expansion
        if groups != 1:
            mid = groups * width_per_group * mid // base_channels
        self.mid_channels = mid
        self.expansion, self.stride, self.dilation, self.style = expansion, stride, dilation, style
        self.with_cp = with_cp
        conv1_stride, conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)
        (n1, norm1), (n2, norm2), (n3, norm3) = (build_norm_layer(norm_cfg, c, postfix=i)
                                                 for i, c in ((1, mid), (2, mid), (3, out_channels)))
        self.norm_names = (n1, n2, n3)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, mid, 1, stride=conv1_stride, bias=False)
        self.add_module(n1, norm1)
        self.conv2 = build_conv_layer(conv_cfg, mid, mid, 3, stride=conv2_stride, padding=dilation,
                                      dilation=dilation, groups=groups, bias=False)
        self.add_module(n2, norm2)
        self.conv3 = build_conv_layer(conv_cfg, mid, out_channels, 1, bias=False)
        self.add_module(n3, norm3)
        self.se_layer = SELayer(out_channels, ratio=se_ratio) if se_ratio else None
        self.relu = build_activation_layer(act_cfg)
        self.downsample = downsample
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 1e-5 else nn.Identity()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm_names[0])

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm_names[1])

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm_names[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def residual(t: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.norm1(self.conv1(t)))
            out = self.relu(self.norm2(self.conv2(out)))
            out = self.norm3(self.conv3(out))
            return out if self.se_layer is None else self.se_layer(out)
        return self._finish(x, residual)


def get_expansion(block: type[nn.Module], expansion: int | None = None) -> int:
    """The expansion of ``block``: ``expansion`` when given, else ``block.expansion``, else 1 for
    :class:`BasicBlock` and 4 for :class:`Bottleneck` subclasses (MMPretrain's rule)."""
    if expansion is None:
        if hasattr(block, 'expansion'):
            return block.expansion
        if issubclass(block, BasicBlock):
            return 1
        if issubclass(block, Bottleneck):
            return 4
        raise ConfigTypeError(f'{block.__name__} has no expansion attribute and is not a BasicBlock or '
                              f'Bottleneck; pass expansion=...')
    if not isinstance(expansion, int) or isinstance(expansion, bool):
        raise ConfigTypeError(f'expansion must be an int or None, got {expansion!r}')
    if expansion <= 0:
        raise ConfigError(f'expansion must be positive, got {expansion}')
    return expansion


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` blocks, the first one changing stride/width with a projected shortcut.

    Args:
        expansion: block expansion; None infers it from ``block`` (:func:`get_expansion`).
        avg_down: make the projection ``AvgPool(stride) -> 1x1 conv`` instead of a strided 1x1 conv (V1d);
            ``'always'``: keep the pool at stride 1 too (MMPretrain's Res2Layer, so its keys are
            ``downsample.1/.2`` in every stage).
        first_block_kwargs: extra arguments of the first block only (Res2Net's ``stage_type='stage'``).
        **kwargs: passed to every block.
    """

    def __init__(self, block: type[nn.Module], num_blocks: int, in_channels: int, out_channels: int,
                 expansion: int | None = None, stride: int = 1, avg_down: bool | str = False,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 first_block_kwargs: dict | None = None, **kwargs):
        expansion = get_expansion(block, expansion)
        downsample = None
        if stride != 1 or in_channels != out_channels:
            layers: list[nn.Module] = []
            conv_stride = stride
            if avg_down == 'always' or (avg_down and stride != 1):
                conv_stride = 1
                layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            layers += [build_conv_layer(conv_cfg, in_channels, out_channels, 1, stride=conv_stride, bias=False),
                       build_norm_layer(norm_cfg, out_channels)[1]]
            downsample = nn.Sequential(*layers)
        blocks = [block(in_channels=in_channels, out_channels=out_channels, expansion=expansion, stride=stride,
                        downsample=downsample, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                        **{**kwargs, **(first_block_kwargs or {})})]
        blocks += [block(in_channels=out_channels, out_channels=out_channels, expansion=expansion, stride=1,
                         conv_cfg=conv_cfg, norm_cfg=norm_cfg, **kwargs) for _ in range(1, num_blocks)]
        super().__init__(*blocks)
        self.block, self.expansion = block, expansion


@MODELS.register_module()
class ResNet(BaseBackbone):
    """ResNet backbone (He et al., 2016), MMPretrain's arguments and module names.

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: input image channels.
        stem_channels: output channels of the stem.
        base_channels: middle channels of the first stage (stage i has ``base * 2**i``).
        expansion: block expansion (default: 1 for BasicBlock, 4 for Bottleneck).
        num_stages: 1 to 4 stages.
        strides / dilations: per-stage stride of the first block and dilation.
        out_indices: stages whose outputs are returned (0-based).
        style: 'pytorch' (stride on the 3x3 conv) or 'caffe' (stride on the first 1x1 conv).
        deep_stem: three 3x3 convs instead of the 7x7 stem conv.
        avg_down: average-pool shortcuts when downsampling.
        frozen_stages: freeze the stem and stages ``1..frozen_stages`` (-1: nothing; 0: the stem).
        norm_cfg / act_cfg: norm and activation of the blocks.
        norm_eval: keep batch-norm statistics frozen in training mode.
        with_cp: gradient checkpointing per block (saves memory, costs time).
        zero_init_residual: initialise each block's last norm to zero (blocks start as identities).
        drop_path_rate: stochastic depth probability, the same for every block (MMPretrain's convention).
    """
    prefers_channels_last = True
    stem_reduction = 4  # the stem's stride (7x7/2 conv + 3x3/2 max-pool)

    arch_settings: dict[int, tuple[type[nn.Module], tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 expansion: int | None = None, num_stages: int = 4, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1), out_indices: Sequence[int] = (3,), style: str = 'pytorch',
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU', inplace=True), norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = True, init_cfg: dict | list[dict] | None = _DEFAULT_INIT,
                 drop_path_rate: float = 0.0):
        super().__init__(init_cfg)
        if depth not in self.arch_settings:  # a KeyError in MMPretrain
            raise ConfigKeyError(f'{type(self).__name__} has no depth {depth}; choose one of '
                              f'{sorted(self.arch_settings)}.')
        if not 1 <= num_stages <= 4:
            raise ConfigError(f'num_stages must be 1..4, got {num_stages}')
        if len(strides) != num_stages or len(dilations) != num_stages:
            raise ConfigError(f'strides {tuple(strides)} and dilations {tuple(dilations)} need one entry per '
                              f'stage (num_stages={num_stages})')
        out_indices = tuple(i % num_stages for i in ((out_indices,) if isinstance(out_indices, int) else out_indices))
        self.depth = depth
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]
        self.expansion = get_expansion(self.block, expansion)

        self._make_stem_layer(in_channels, stem_channels)
        self.res_layers: list[str] = []
        in_ch, out_ch = stem_channels, base_channels * self.expansion
        for i, num_blocks in enumerate(self.stage_blocks):
            layer = ResLayer(self.block, num_blocks, in_ch, out_ch, self.expansion, stride=strides[i],
                             dilation=dilations[i], style=style, avg_down=avg_down, with_cp=with_cp,
                             conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, drop_path_rate=drop_path_rate,
                             **self._block_kwargs())
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            in_ch, out_ch = out_ch, out_ch * 2
        self.feat_dim = in_ch
        self.stage_channels = tuple(base_channels * self.expansion * 2 ** i for i in range(num_stages))
        self.stage_reductions = tuple(self.stem_reduction * math.prod(strides[:i + 1]) for i in range(num_stages))
        self._freeze_stages()

    def _block_kwargs(self) -> dict:
        """Extra block arguments of subclasses (ResNeXt groups, SE ratio)."""
        return {}

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                ConvModule(in_channels, half, 3, stride=2, padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg),
                ConvModule(half, half, 3, stride=1, padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg),
                ConvModule(half, stem_channels, 3, stride=1, padding=1, conv_cfg=self.conv_cfg,
                           norm_cfg=self.norm_cfg))
        else:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, 7, stride=2, padding=3,
                                          bias=False)
            self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _stem_modules(self) -> list[nn.Module]:
        return [self.stem] if self.deep_stem else [self.conv1, self.norm1]

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        return self.maxpool(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem_forward(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for m in self._stem_modules():
                freeze_module(m)
        for i in range(1, self.frozen_stages + 1):
            freeze_module(getattr(self, f'layer{i}'))

    def init_weights(self) -> None:
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not pretrained:
            for m in self.modules():
                if isinstance(m, _ResBlock):
                    nn.init.zeros_(m.last_norm.weight)
                    if m.last_norm.bias is not None:
                        nn.init.zeros_(m.last_norm.bias)

    #: MMPretrain's grouping for layer-wise lr decay: (blocks of stage 2, of stage 3) per layer id,
    #: keyed by (stage-2 blocks, stage-3 blocks); other depths give each block of stages 2-3 its own id
    _layer_groups = {(4, 6): (2, 3), (4, 23): (2, 3), (8, 36): (4, 4), (24, 36): (4, 4), (30, 48): (5, 6)}

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """(layer id, number of layer ids) for layer-wise learning-rate decay, as MMPretrain's ResNet:
        the stem 0, stage 1 one id, stages 2 and 3 one id per group of blocks, stage 4 one id, and
        everything outside the backbone (the head) the last id."""
        depths = self.stage_blocks
        if len(depths) != 4:
            raise NotImplementedError(f'get_layer_depth needs 4 stages, this {type(self).__name__} has {len(depths)}')
        blk2, blk3 = self._layer_groups.get((depths[1], depths[2]), (1, 1))
        n2, n3 = math.ceil(depths[1] / blk2), math.ceil(depths[2] / blk3)
        last = 2 + n2 + n3                      # stage 4 (ResNet-50: 6)
        num_layers = last + 2                   # + the head's id (ResNet-50: 8)
        if not param_name.startswith(prefix):
            return last + 1, num_layers
        parts = param_name[len(prefix):].split('.')
        if not parts[0].startswith('layer'):
            return 0, num_layers
        stage, block = int(parts[0][5:]), int(parts[1])
        layer_id = {1: 1, 2: 2 + block // blk2, 3: 2 + n2 + block // blk3}.get(stage, last)
        return layer_id, num_layers


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNet-V1c: the 7x7 stem conv replaced by three 3x3 convs (Bag of Tricks, He et al. 2019)."""

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNet-V1d: the V1c stem, and shortcuts that average-pool before their 1x1 conv (Bag of Tricks)."""

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)


@MODELS.register_module()
class ResNet_CIFAR(ResNet):
    """ResNet for 32x32 images: a 3x3 stride-1 stem conv and no max-pool (He et al. 2016, Sec. 4.2 style).

    Takes the same arguments as :class:`ResNet`; ``deep_stem`` is not supported.
    """

    def __init__(self, depth: int, deep_stem: bool = False, **kwargs):
        if deep_stem:
            raise ConfigError('ResNet_CIFAR does not support deep_stem=True; use ResNetV1c/ResNetV1d for a deep stem.')
        super().__init__(depth, deep_stem=False, **kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, 3, stride=1, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

    stem_reduction = 1

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.norm1(self.conv1(x)))

"""HRNet (Wang et al., "Deep High-Resolution Representation Learning for Visual Recognition", TPAMI 2020).

A two-conv stem and a Bottleneck stage, then stages of parallel branches at 1/4, 1/8, 1/16 and 1/32 of
the input, each a stack of residual blocks, exchanging information after every module (each branch gets
the sum of all branches, upsampled or strided to its resolution). The classification model fuses the four
outputs with the :class:`~fovea.models.necks.hr_fuse.HRFuseScales` neck.

MMPretrain's arguments and module names (``conv1``/``norm1``/``conv2``/``norm2``, ``layer1``,
``transition1..3``, ``stage2..4`` of ``HRModule``s with ``branches`` and ``fuse_layers``), so its
checkpoints load; the blocks and stages are fovea's ResNet ``BasicBlock``/``Bottleneck``/``ResLayer``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fovea.models.backbones.base import BaseBackbone
from fovea.models.backbones.resnet import BasicBlock, Bottleneck, ResLayer, get_expansion
from fovea.models.layers.conv import build_conv_layer, build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['HRNet', 'HRModule']

BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}


def _conv_norm(conv_cfg, norm_cfg, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
               relu: bool = False, *extra: nn.Module) -> nn.Sequential:
    layers = [build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
              build_norm_layer(norm_cfg, out_channels)[1], *extra]
    if relu:
        layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """``num_branches`` parallel ResLayers, then the exchange: output ``i`` is ReLU(sum over ``j`` of branch
    ``j`` brought to branch ``i``'s width and resolution: 1x1 conv-BN and nearest upsampling from lower
    resolutions, chained stride-2 3x3 conv-BNs from higher ones). ``multiscale_output=False`` gives only the
    highest-resolution output."""

    def __init__(self, num_branches: int, block: type[nn.Module], num_blocks: Sequence[int],
                 in_channels: Sequence[int], num_channels: Sequence[int], multiscale_output: bool = True,
                 with_cp: bool = False, conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        for name, value in (('num_blocks', num_blocks), ('num_channels', num_channels), ('in_channels', in_channels)):
            if len(value) != num_branches:
                raise ConfigError(f'HRModule: {num_branches} branches but {len(value)} {name} ({list(value)})')
        self.num_branches, self.multiscale_output = num_branches, multiscale_output
        expansion = get_expansion(block)
        self.branches = nn.ModuleList(
            ResLayer(block, num_blocks[i], in_channels[i], num_channels[i] * expansion, with_cp=with_cp,
                     conv_cfg=conv_cfg, norm_cfg=norm_cfg) for i in range(num_branches))
        self.in_channels = [c * expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers(conv_cfg, norm_cfg) if num_branches > 1 else None
        self.relu = nn.ReLU(inplace=False)

    def _make_fuse_layers(self, conv_cfg, norm_cfg) -> nn.ModuleList:
        ch = self.in_channels
        fuse = nn.ModuleList()
        for i in range(self.num_branches if self.multiscale_output else 1):
            row: list[nn.Module | None] = []
            for j in range(self.num_branches):
                if j > i:
                    row.append(_conv_norm(conv_cfg, norm_cfg, ch[j], ch[i], 1, 1, False,
                                          nn.Upsample(scale_factor=2 ** (j - i), mode='nearest')))
                elif j == i:
                    row.append(None)
                else:   # i - j stride-2 convs; the last changes the width and has no ReLU
                    row.append(nn.Sequential(*(
                        _conv_norm(conv_cfg, norm_cfg, ch[j], ch[i] if k == i - j - 1 else ch[j], 3, 2,
                                   k < i - j - 1) for k in range(i - j))))
            fuse.append(nn.ModuleList(row))
        return fuse

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(t) for branch, t in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        return [self.relu(sum(t if i == j else row[j](t) for j, t in enumerate(x)))
                for i, row in enumerate(self.fuse_layers)]


def _extra(stages: list) -> dict:
    return {f'stage{i}': dict(num_modules=s[0], num_branches=s[1], block=s[2], num_blocks=s[3], num_channels=s[4])
            for i, s in enumerate(stages, start=1)}


def _arch(w: int) -> dict:
    return _extra([[1, 1, 'BOTTLENECK', (4,), (64,)],
                   [1, 2, 'BASIC', (4, 4), (w, 2 * w)],
                   [4, 3, 'BASIC', (4, 4, 4), (w, 2 * w, 4 * w)],
                   [3, 4, 'BASIC', (4, 4, 4, 4), (w, 2 * w, 4 * w, 8 * w)]])


@MODELS.register_module()
class HRNet(BaseBackbone):
    """HRNet backbone with MMPretrain's arguments; returns every branch of the last stage (high resolution
    first), or only the first with ``multiscale_output=False``.

    Args:
        arch: 'w18', 'w30', 'w32', 'w40', 'w44', 'w48', 'w64' (the branch widths w, 2w, 4w, 8w); used where
            ``extra`` is None.
        extra: the four stages spelled out: ``stage1`` .. ``stage4``, each with ``num_modules``,
            ``num_branches``, ``block`` ('BASIC' or 'BOTTLENECK'), ``num_blocks`` and ``num_channels``.
        in_channels: input channels.
        zero_init_residual: start every block's last norm at zero (the blocks begin as identities).
        multiscale_output: return all branches of the last stage (True) or the first only.
        out_indices: fovea's: which of the returned branches to return (default all).
        conv_cfg / norm_cfg, norm_eval, with_cp: as usual.
    """
    prefers_channels_last = True
    arch_zoo = {f'w{w}': _arch(w) for w in (18, 30, 32, 40, 44, 48, 64)}
    arch_settings = arch_zoo

    def __init__(self, arch: str = 'w32', extra: dict | None = None, in_channels: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'), norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = False, multiscale_output: bool = True,
                 out_indices: Sequence[int] | None = None,
                 init_cfg: dict | list[dict] | None = [dict(type='Kaiming', layer='Conv2d'),
                                                       dict(type='Constant', val=1,
                                                            layer=['_BatchNorm', 'GroupNorm'])]):
        super().__init__(init_cfg)
        if extra is None:
            if arch not in self.arch_zoo:
                raise ConfigError(f'HRNet arch {arch!r} is unknown.{did_you_mean(str(arch), self.arch_zoo)} Choose '
                                  f'one of {", ".join(self.arch_zoo)}, or give the stages as extra=dict(stage1=...).')
            extra = self.arch_zoo[arch]
        for i in range(1, 5):
            cfg = extra.get(f'stage{i}')
            if cfg is None:
                raise ConfigError(f'HRNet extra needs stage1 .. stage4; stage{i} is missing')
            if cfg.get('block') not in BLOCKS:
                raise ConfigError(f"HRNet extra.stage{i}.block must be 'BASIC' or 'BOTTLENECK', "
                                  f"got {cfg.get('block')!r}")
            if not len(cfg['num_blocks']) == len(cfg['num_channels']) == cfg['num_branches']:
                raise ConfigError(f'HRNet extra.stage{i}: num_blocks and num_channels need num_branches '
                                  f'({cfg["num_branches"]}) entries each')
        self.extra, self.norm_eval, self.zero_init_residual = extra, norm_eval, zero_init_residual
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, 64, 3, 2, 1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, 64, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, 64, 64, 3, 2, 1, bias=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, 64, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        stage1 = extra['stage1']
        block = BLOCKS[stage1['block']]
        channels = [c * get_expansion(block) for c in stage1['num_channels']]
        self.layer1 = ResLayer(block, stage1['num_blocks'][0], 64, channels[0], **common)
        for i in range(2, 5):
            cfg = extra[f'stage{i}']
            block = BLOCKS[cfg['block']]
            widths = [c * get_expansion(block) for c in cfg['num_channels']]
            self.add_module(f'transition{i - 1}', self._make_transition(channels, widths, conv_cfg, norm_cfg))
            last_multiscale = multiscale_output if i == 4 else True
            self.add_module(f'stage{i}', nn.Sequential(*(
                HRModule(cfg['num_branches'], block, cfg['num_blocks'], widths, cfg['num_channels'],
                         last_multiscale or m < cfg['num_modules'] - 1, with_cp, **common)
                for m in range(cfg['num_modules']))))
            channels = widths
        n = len(channels) if multiscale_output else 1
        self.stage_channels = tuple(channels[:n])
        self.stage_reductions = tuple(4 * 2 ** i for i in range(n))
        self.out_indices = tuple(range(n)) if out_indices is None else tuple(out_indices)
        if any(not 0 <= i < n for i in self.out_indices):
            raise ConfigError(f'HRNet out_indices {self.out_indices} are out of range: it returns {n} branches')

    def init_weights(self) -> None:
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not pretrained:   # the blocks of stages 2-4 (MMPretrain: not layer1)
            for m in self.modules():
                if isinstance(m, HRModule):
                    for block in m.branches.modules():
                        if isinstance(block, (BasicBlock, Bottleneck)):
                            nn.init.zeros_(block.last_norm.weight)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @staticmethod
    def _make_transition(pre: list[int], cur: list[int], conv_cfg, norm_cfg) -> nn.ModuleList:
        """Existing branches change width where needed (3x3 conv-BN-ReLU); each new branch comes from the lowest
        resolution one by stride-2 3x3 conv-BN-ReLUs."""
        layers = nn.ModuleList()
        for i, width in enumerate(cur):
            if i < len(pre):
                layers.append(_conv_norm(conv_cfg, norm_cfg, pre[i], width, 3, 1, True) if width != pre[i]
                              else nn.Identity())
            else:
                layers.append(nn.Sequential(*(
                    _conv_norm(conv_cfg, norm_cfg, pre[-1], width if j == i - len(pre) else pre[-1], 3, 2, True)
                    for j in range(i + 1 - len(pre)))))
        return layers

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.norm2(self.conv2(self.relu(self.norm1(self.conv1(x))))))
        xs = [self.layer1(x)]
        for i in range(2, 5):
            transition = getattr(self, f'transition{i - 1}')
            xs = getattr(self, f'stage{i}')([layer(xs[min(j, len(xs) - 1)]) for j, layer in enumerate(transition)])
        return tuple(xs[i] for i in self.out_indices)

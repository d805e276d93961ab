"""The temporal shift module (Lin et al., "TSM: Temporal Shift Module for Efficient Video
Understanding", ICCV 2019) on fovea's 2D backbones.

A recognizer runs the ``num_segments`` frames of a video as a batch of images, (N * T, C, H, W).
Before the first convolution of every residual block the shift moves ``1/shift_div`` of the
channels one segment back in time (frame t sees frame t+1's values), the next ``1/shift_div`` one
segment forward (frame t sees frame t-1's), leaves the rest in place, and fills the vacated end
frames with zeros, as MMAction2's ``ResNetTSM`` (``shift_place='blockres'``: the residual branch only,
the shortcut unshifted) and ``MobileNetV2TSM`` (before the expansion convolution of the blocks
with a shortcut) do.

The shift is a forward pre-hook on that convolution, not a wrapper module, so the backbone keeps the
2D backbone's parameter names and ImageNet checkpoints (fovea, MMPretrain, torchvision) load into it
unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.mobilenet_v2 import MobileNetV2
from fovea.models.backbones.resnet import ResNet, _ResBlock
from fovea.models.layers.inverted_residual import InvertedResidual
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['temporal_shift', 'TemporalShift', 'add_temporal_shift', 'ResNetTSM', 'MobileNetV2TSM']


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """Shift ``x`` (N * num_segments, C, H, W) along time: channels ``[0, C/div)`` come from the next
    segment, ``[C/div, 2C/div)`` from the previous one, zeros where there is none."""
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise ValueError(f'temporal_shift: {nt} frames in the batch are not a multiple of num_segments='
                         f'{num_segments}; feed (N * num_segments, C, H, W) frames.')
    x = x.reshape(nt // num_segments, num_segments, c, h, w)
    fold = c // shift_div
    back, fwd, rest = x[:, :, :fold], x[:, :, fold:2 * fold], x[:, :, 2 * fold:]
    zero = back.new_zeros(back.shape[0], 1, *back.shape[2:])
    back = torch.cat((back[:, 1:], zero), 1)            # frame t <- frame t+1
    fwd = torch.cat((zero, fwd[:, :-1]), 1)             # frame t <- frame t-1
    return torch.cat((back, fwd, rest), 2).reshape(nt, c, h, w)


class TemporalShift:
    """A forward pre-hook that applies :func:`temporal_shift` to a module's input."""

    def __init__(self, num_segments: int, shift_div: int = 8):
        if num_segments < 1 or shift_div < 1:
            raise ConfigError(f'temporal shift needs num_segments >= 1 and shift_div >= 1, got '
                              f'num_segments={num_segments}, shift_div={shift_div}')
        self.num_segments, self.shift_div = num_segments, shift_div

    def __call__(self, module: nn.Module, args: tuple) -> tuple:
        return (temporal_shift(args[0], self.num_segments, self.shift_div), *args[1:])

    def __repr__(self) -> str:
        return f'TemporalShift(num_segments={self.num_segments}, shift_div={self.shift_div})'


def _shift_targets(backbone: nn.Module) -> list[nn.Module]:
    """The convolution each residual block shifts before: ResNet-family blocks' ``conv1``, and the
    expansion conv of inverted residual blocks that have a shortcut (MMAction2's choice)."""
    out = []
    for m in backbone.modules():
        if isinstance(m, _ResBlock):
            out.append(m.conv1)
        elif isinstance(m, InvertedResidual) and m.with_res_shortcut and m.with_expand_conv:
            out.append(m.expand_conv)
    return out


def add_temporal_shift(backbone: nn.Module, num_segments: int, shift_div: int = 8,
                       targets: list[nn.Module] | None = None) -> list[nn.Module]:
    """Make every residual block of ``backbone`` (ResNet/ResNeXt/SE-ResNet, MobileNetV2/V3,
    EfficientNet blocks), or the given ``targets``, shift its residual branch's input in time;
    returns the shifted modules."""
    targets = _shift_targets(backbone) if targets is None else targets
    if not targets:
        raise ConfigError(f'{type(backbone).__name__} has no residual blocks to add a temporal shift to '
                          f'(ResNet-family and inverted-residual blocks are supported).')
    for m in targets:
        m.register_forward_pre_hook(TemporalShift(num_segments, shift_div))
    return targets


class _TSMMixin:
    """The TSM arguments MMAction2's ``ResNetTSM``/``MobileNetV2TSM`` take."""

    def _init_tsm(self, num_segments: int, is_shift: bool, shift_div: int,
                  targets: list[nn.Module] | None = None) -> None:
        self.num_segments, self.is_shift, self.shift_div = num_segments, is_shift, shift_div
        self.shifted_modules = add_temporal_shift(self, num_segments, shift_div, targets) if is_shift else []


@MODELS.register_module()
class ResNetTSM(_TSMMixin, ResNet):
    """ResNet with a temporal shift in every residual block (MMAction2's ``ResNetTSM``,
    ``shift_place='blockres'``). Takes :class:`~fovea.models.backbones.ResNet`'s arguments and:

    Args:
        num_segments: frames per video in the batch (the recognizer's segments).
        is_shift: add the shift (False: a plain ResNet, i.e. TSN).
        shift_div: 1/shift_div of the channels go each way.
        shift_place: only 'blockres' (MMAction2's default).
        temporal_pool / non_local: not supported (ConfigError when set).
    """

    def __init__(self, depth: int, num_segments: int = 8, is_shift: bool = True, shift_div: int = 8,
                 shift_place: str = 'blockres', temporal_pool: bool = False, non_local=(0, 0, 0, 0),
                 non_local_cfg: dict | None = None, pretrained2d: bool = True, **kwargs):
        if shift_place != 'blockres':
            raise ConfigError(f"ResNetTSM shift_place={shift_place!r}: fovea implements 'blockres' (the residual "
                              f"branch of every block, MMAction2's default) only.")
        if temporal_pool or any(non_local) or non_local_cfg:
            raise ConfigError('ResNetTSM: temporal_pool and non-local blocks are not implemented in fovea; '
                              'remove temporal_pool/non_local/non_local_cfg from the config.')
        super().__init__(depth, **kwargs)
        # MMAction2: when stage 3 has 23 blocks or more (ResNet-101/152) every other block of each stage
        every = 2 if len(self.res_layers) > 2 and len(getattr(self, self.res_layers[2])) >= 23 else 1
        self._init_tsm(num_segments, is_shift, shift_div,
                       [b.conv1 for name in self.res_layers for i, b in enumerate(getattr(self, name)) if i % every == 0])


@MODELS.register_module()
class MobileNetV2TSM(_TSMMixin, MobileNetV2):
    """MobileNetV2 with a temporal shift before the expansion conv of every block with a shortcut
    (MMAction2's ``MobileNetV2TSM``). Takes :class:`~fovea.models.backbones.MobileNetV2`'s arguments
    and ``num_segments``, ``is_shift``, ``shift_div`` (see :class:`ResNetTSM`)."""

    def __init__(self, num_segments: int = 8, is_shift: bool = True, shift_div: int = 8,
                 pretrained2d: bool = True, **kwargs):
        super().__init__(**kwargs)
        self._init_tsm(num_segments, is_shift, shift_div)

"""RIFormer (Wang et al., "RIFormer: Keep Your Vision Backbone Effective But Removing Token Mixer",
CVPR 2023): a PoolFormer whose token mixer is a per-channel affine map ``w * x + b - x``, trained by
distillation. Affine after a norm is itself a norm with other scale and shift, so
:meth:`RIFormer.switch_to_deploy` (and ``fovea reparameterize``) folds ``norm1`` and the mixer into
one GroupNorm, ``norm_reparam``: the deployed block is a norm and an MLP, with no token mixing at all.

MMPretrain's arguments and names (``token_mixer.affine``, deploy form ``norm_reparam``), so its
training-form and deploy-form checkpoints both load.
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.poolformer import MetaFormerBlock, PoolFormer
from fovea.models.layers.conv import build_norm_layer
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['RIFormer', 'RIFormerBlock', 'Affine']


class Affine(nn.Module):
    """``w * x + b - x`` per channel (a depthwise 1x1 convolution, ``affine``, less the identity)."""

    def __init__(self, channels: int):
        super().__init__()
        self.affine = nn.Conv2d(channels, channels, 1, groups=channels, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.affine(x) - x


class RIFormerBlock(MetaFormerBlock):
    """A :class:`MetaFormerBlock` with the :class:`Affine` mixer; ``deploy=True`` builds the folded form."""

    def __init__(self, dim: int, deploy: bool = False, **kwargs):
        super().__init__(dim, Affine(dim), **kwargs)
        self.norm_cfg = kwargs.get('norm_cfg', dict(type='GN', num_groups=1))
        self.deploy = False
        if deploy:
            del self.norm1, self.token_mixer
            self.norm_reparam = build_norm_layer(self.norm_cfg, dim)[1]
            self.deploy = True

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_reparam(x) if self.deploy else super().mix(x)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold ``token_mixer(norm1(x))`` into ``norm_reparam(x)``: scale ``g * (w - 1)``, shift ``beta * (w - 1) + b``."""
        if self.deploy:
            return
        if not (getattr(self.norm1, 'weight', None) is not None and getattr(self.norm1, 'bias', None) is not None):
            raise ConfigError(f'RIFormer re-parameterisation needs an affine norm (weight and bias); norm_cfg is '
                              f'{self.norm_cfg}')
        w = self.token_mixer.affine.weight.reshape(-1) - 1
        norm = build_norm_layer(self.norm_cfg, w.numel())[1].to(w.device, w.dtype)
        norm.weight.copy_(self.norm1.weight * w)
        norm.bias.copy_(self.norm1.bias * w + self.token_mixer.affine.bias)
        del self.norm1, self.token_mixer
        self.norm_reparam = norm
        self.deploy = True


@MODELS.register_module()
class RIFormer(PoolFormer):
    """RIFormer backbone with MMPretrain's arguments: :class:`PoolFormer`'s (no ``pool_size``) and

    Args:
        deploy: build the re-parameterised form (``norm_reparam`` in every block) directly.
        frozen_stages: as PoolFormer, default -1 (nothing frozen), as in MMPretrain.
    """
    family = 'RIFormer'

    def __init__(self, arch: str | dict = 's12', in_channels: int = 3, norm_cfg: dict = dict(type='GN', num_groups=1),
                 act_cfg: dict = dict(type='GELU'), in_patch_size: int = 7, in_stride: int = 4, in_pad: int = 2,
                 down_patch_size: int = 3, down_stride: int = 2, down_pad: int = 1, drop_rate: float = 0.,
                 drop_path_rate: float = 0., out_indices=-1, frozen_stages: int = -1,
                 init_cfg: dict | list[dict] | None = None, deploy: bool = False):
        self.deploy = deploy
        super().__init__(arch, norm_cfg=norm_cfg, act_cfg=act_cfg, in_patch_size=in_patch_size, in_stride=in_stride,
                         in_pad=in_pad, down_patch_size=down_patch_size, down_stride=down_stride, down_pad=down_pad,
                         drop_rate=drop_rate, drop_path_rate=drop_path_rate, out_indices=out_indices,
                         frozen_stages=frozen_stages, init_cfg=init_cfg, in_channels=in_channels)

    def build_block(self, dim: int, **kwargs) -> nn.Module:
        return RIFormerBlock(dim, deploy=self.deploy, **kwargs)

    def switch_to_deploy(self) -> None:
        """Fold every block's affine mixer into its norm (see :class:`RIFormerBlock`)."""
        for m in self.modules():
            if isinstance(m, RIFormerBlock):
                m.switch_to_deploy()
        self.deploy = True

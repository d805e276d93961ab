"""DeiT III (Touvron et al., "DeiT III: Revenge of the ViT", ECCV 2022): a ViT with LayerScale on both
branches of every layer, whose position embedding covers the patch tokens only (the class token is
prepended after it is added).

MMPretrain's arguments and names (``layers.{i}.attn.gamma1``, ``layers.{i}.ffn.gamma2``, ``ln1``), so its
checkpoints load as they are. MMPretrain's ``use_layer_scale=True`` is LayerScale initialised to 1e-4
(``layer_scale_init_value``; its LayerScale default).
"""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.vision_transformer import VisionTransformer
from fovea.models.layers.patch_embed import resize_pos_embed
from fovea.registry import MODELS

__all__ = ['DeiT3']

_ARCH = {'s': (384, 12, 6, 1536), 'm': (512, 12, 8, 2048), 'b': (768, 12, 12, 3072), 'l': (1024, 24, 16, 4096),
         'h': (1280, 32, 16, 5120)}
_NAMES = {'s': 'small', 'm': 'medium', 'b': 'base', 'l': 'large', 'h': 'huge'}


@MODELS.register_module()
class DeiT3(VisionTransformer):
    """DeiT III backbone: :class:`VisionTransformer`'s arguments, and

    Args:
        arch: 's'/'small', 'm'/'medium', 'b'/'base', 'l'/'large', 'h'/'huge', or a dict.
        use_layer_scale: LayerScale on the attention and MLP branches (MMPretrain's switch).
        layer_scale_init_value: its initial value (1e-4).
    """
    arch_zoo = {name: dict(embed_dims=d, num_layers=n, num_heads=h, feedforward_channels=f)
                for key, (d, n, h, f) in _ARCH.items() for name in (key, _NAMES[key])}

    def __init__(self, arch: str | dict = 'base', *args, use_layer_scale: bool = True,
                 layer_scale_init_value: float = 1e-4, **kwargs):
        super().__init__(arch, *args, layer_scale_init_value=layer_scale_init_value if use_layer_scale else 0.,
                         **kwargs)
        self.pos_embed = nn.Parameter(self.pos_embed.new_zeros(1, self.pos_embed.shape[1] - self.num_extra_tokens,
                                                               self.embed_dims))

    def _embed_tokens(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, hw, mode=self.interpolate_mode,
                                 num_extra_tokens=0)
        x = self.drop_after_pos(x)
        extra = self._extra_tokens(x.shape[0])
        return self.pre_norm(torch.cat([*extra, x], dim=1) if extra else x)

    def adapt_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Interpolate a checkpoint's patch-only ``pos_embed`` trained at another resolution."""
        name = prefix + 'pos_embed'
        ckpt = state_dict.get(name)
        if ckpt is None or ckpt.shape == self.pos_embed.shape or ckpt.ndim != 3:
            return
        side = int(round(ckpt.shape[1] ** 0.5))
        if side * side == ckpt.shape[1] and ckpt.shape[2] == self.embed_dims:
            state_dict[name] = resize_pos_embed(ckpt, (side, side), self.patch_resolution, self.interpolate_mode, 0)

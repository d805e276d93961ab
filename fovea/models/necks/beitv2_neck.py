"""BEiT v2's neck: two BEiT layers on the last layer's class token joined to an early layer's patch
tokens, so the class token must gather the image's information (Peng et al., 2022)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.beit import BEiTTransformerEncoderLayer, rescale_residual_init
from fovea.models.backbones.vision_transformer import _arch, _linspace
from fovea.models.base import BaseModule
from fovea.models.layers.conv import build_norm_layer
from fovea.registry import MODELS

__all__ = ['BEiTV2Neck']


@MODELS.register_module()
class BEiTV2Neck(BaseModule):
    """``forward((early_states, x), rel_pos_bias)`` -> ``(x, x_cls_pt)``, both (B, N, C) patch tokens
    through the shared ``norm``: the backbone's last layer, and ``num_layers`` layers
    (``patch_aggregation``) run on [last cls token, early patch tokens].

    Args (MMPretrain's): num_layers (2), early_layers (9: the backbone layer the early tokens come
    from, also the first drop-path/rescale depth), backbone_arch ('base', 'large', or a dict with
    embed_dims, num_heads, feedforward_channels and depth or num_layers), drop_rate, drop_path_rate,
    layer_scale_init_value, use_rel_pos_bias, norm_cfg.
    """

    arch_zoo = {
        **dict.fromkeys(['b', 'base'], dict(embed_dims=768, depth=12, num_heads=12, feedforward_channels=3072)),
        **dict.fromkeys(['l', 'large'], dict(embed_dims=1024, depth=24, num_heads=16, feedforward_channels=4096)),
    }

    def __init__(self, num_layers: int = 2, early_layers: int = 9, backbone_arch: str | dict = 'base',
                 drop_rate: float = 0., drop_path_rate: float = 0., layer_scale_init_value: float = 0.1,
                 use_rel_pos_bias: bool = False, norm_cfg: dict = dict(type='LN', eps=1e-6),
                 init_cfg: dict | list | None = dict(type='TruncNormal', layer='Linear', std=0.02, bias=0)):
        super().__init__(init_cfg)
        arch = _arch(backbone_arch, self.arch_zoo, {'embed_dims', 'num_heads', 'feedforward_channels'}, 'BEiTV2Neck')
        self.arch_settings = arch
        self.early_layers = early_layers
        depth = arch.get('depth', arch.get('num_layers', early_layers + num_layers))
        dpr = _linspace(drop_path_rate, max(depth, early_layers + num_layers))
        self.patch_aggregation = nn.ModuleList(
            BEiTTransformerEncoderLayer(embed_dims=arch['embed_dims'], num_heads=arch['num_heads'],
                                        feedforward_channels=arch['feedforward_channels'], drop_rate=drop_rate,
                                        drop_path_rate=dpr[i], norm_cfg=norm_cfg,
                                        layer_scale_init_value=layer_scale_init_value, window_size=None,
                                        use_rel_pos_bias=use_rel_pos_bias)
            for i in range(early_layers, early_layers + num_layers))
        self.norm = build_norm_layer(norm_cfg, arch['embed_dims'])[1]

    def init_weights(self) -> None:
        super().init_weights()
        rescale_residual_init(self.patch_aggregation, self.early_layers + 1)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor], rel_pos_bias: torch.Tensor | None = None,
                **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        early_states, x = inputs[0], inputs[1]
        x_cls_pt = torch.cat([x[:, :1], early_states[:, 1:]], dim=1)
        for layer in self.patch_aggregation:
            x_cls_pt = layer(x_cls_pt, rel_pos_bias=rel_pos_bias)
        return self.norm(x)[:, 1:], self.norm(x_cls_pt)[:, 1:]

"""SimMIM (Xie et al., "SimMIM: A Simple Framework for Masked Image Modeling", CVPR 2022) with
MMPretrain's names: ``SimMIMSwinTransformer`` replaces the masked patches' tokens by a learned mask
token, ``SimMIMLinearDecoder`` (necks) predicts the pixels from the last map with a 1x1 convolution
and a pixel shuffle, ``SimMIMHead`` scores the masked pixels with an L1 ``PixelReconstructionLoss``.
The masks come from the pipeline (``SimMIMMaskGenerator``)."""
from __future__ import annotations

import torch
from torch import nn

from fovea.models.backbones.swin_transformer import SwinTransformer
from fovea.models.selfsup.base import BaseSelfSupervisor
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['SimMIMSwinTransformer', 'SimMIM', 'stack_masks']


def stack_masks(data_samples, owner: str, generator: str) -> torch.Tensor:
    """The batch's per-sample ``mask`` fields as one (B, h, w) tensor, with a clear error where the
    pipeline made none."""
    if not data_samples or any('mask' not in s for s in data_samples):
        raise ConfigError(f'{owner} needs a patch mask per image, and the batch has none: add '
                          f"dict(type='{generator}', ...) before PackInputs in train_dataloader.dataset.pipeline.")
    return torch.stack([s.mask for s in data_samples])


@MODELS.register_module()
class SimMIMSwinTransformer(SwinTransformer):
    """A Swin Transformer whose ``forward(x, mask)`` blends a learned ``mask_token`` into the patch
    tokens where ``mask`` (B, H/4, W/4) is 1; ``mask=None`` is the plain Swin Transformer.

    Args: those of :class:`SwinTransformer`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        nn.init.trunc_normal_(self.mask_token, mean=0, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        if mask is None:
            return super().forward(x)
        x, hw = self.patch_embed(x)
        if mask.shape[-2:] != tuple(hw):
            raise DataError(f'SimMIMSwinTransformer: the mask is {tuple(mask.shape[-2:])} patches, the image '
                            f'{tuple(hw)}: set SimMIMMaskGenerator input_size to the image size and '
                            f'model_patch_size to the backbone patch size.')
        w = mask.flatten(1).unsqueeze(-1).type_as(x)
        x = x * (1. - w) + self.mask_token.to(x.dtype) * w
        return self._forward_tokens(x, hw)


@MODELS.register_module()
class SimMIM(BaseSelfSupervisor):
    """Masked patches replaced by a mask token, the image reconstructed from the last map, L1 on
    the masked pixels. ``extract_feat`` runs the backbone unmasked."""

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def loss(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> dict[str, torch.Tensor]:
        mask = stack_masks(data_samples, 'SimMIM', 'SimMIMMaskGenerator')
        latent = self.backbone(inputs, mask)
        return dict(loss=self.head.loss(self.neck(latent[0]), inputs, mask))

"""DINOMultiCrop: DINO's multi-crop views (MMPretrain project's name and arguments)."""
from __future__ import annotations

from typing import Sequence

from fovea.data.transforms.wrappers import MultiView
from fovea.registry import TRANSFORMS

__all__ = ['DINOMultiCrop']


def _dino_view(size: int, crop_range: Sequence[float], blur_prob: float, solarize_prob: float = 0.) -> list[dict]:
    view = [
        dict(type='RandomResizedCrop', scale=size, crop_ratio_range=tuple(crop_range), interpolation='bicubic',
             backend='pillow'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandomApply', prob=0.8,
             transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=blur_prob),
    ]
    if solarize_prob:
        view.append(dict(type='Solarize', thr=128, prob=solarize_prob))
    return view


@TRANSFORMS.register_module()
class DINOMultiCrop(MultiView):
    """Two global crops (``global_crops_scale`` of the area, ``global_crops_size`` px) and
    ``local_crops_number`` local ones (``local_crops_scale``, ``local_crops_size`` px), each flipped,
    colour-jittered (p 0.8), greyed (p 0.2) and blurred; DINO's probabilities: blur 1.0 on the first
    global crop, 0.1 (and solarisation 0.2) on the second, 0.5 on the local crops. ``img`` becomes
    the list of crops, global ones first. (MMPretrain's project blurs every crop with one fixed
    radius drawn at construction; this follows DINO's code.)"""

    def __init__(self, global_crops_scale: Sequence[float] = (0.4, 1.0), local_crops_scale: Sequence[float] = (0.05, 0.4),
                 local_crops_number: int = 8, global_crops_size: int = 224, local_crops_size: int = 96):
        pipelines = [_dino_view(global_crops_size, global_crops_scale, 1.0),
                     _dino_view(global_crops_size, global_crops_scale, 0.1, solarize_prob=0.2)]
        counts = [1, 1]
        if local_crops_number:
            pipelines.append(_dino_view(local_crops_size, local_crops_scale, 0.5))
            counts.append(local_crops_number)
        super().__init__(transforms=pipelines, num_views=counts)
        self.global_crops_scale, self.local_crops_scale = tuple(global_crops_scale), tuple(local_crops_scale)
        self.local_crops_number = local_crops_number

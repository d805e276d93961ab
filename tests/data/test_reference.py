"""fovea's transforms against reference implementations: Pillow (what MMCV's pillow backend and
timm use) and timm's CutMix box sampler."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from fovea.registry import BATCH_AUGMENTS, TRANSFORMS

ARR = np.random.default_rng(3).integers(0, 256, (37, 53, 3), dtype=np.uint8)
IMG = torch.from_numpy(ARR).permute(2, 0, 1).contiguous()


def _fovea(cfg):
    return TRANSFORMS.build(dict(cfg, prob=1.0))({'img': IMG.clone()})['img'].permute(1, 2, 0).numpy()


@pytest.mark.parametrize('cfg,ref', [
    (dict(type='Solarize', thr=100), lambda im: ImageOps.solarize(im, 100)),
    (dict(type='Posterize', bits=3), lambda im: ImageOps.posterize(im, 3)),
    (dict(type='Invert'), ImageOps.invert),
    (dict(type='Equalize'), ImageOps.equalize),
    (dict(type='AutoContrast'), ImageOps.autocontrast),
], ids=lambda x: x['type'] if isinstance(x, dict) else '')
def test_pixel_ops_match_pillow(cfg, ref):
    expected = np.asarray(ref(Image.fromarray(ARR)))
    np.testing.assert_array_equal(_fovea(cfg), expected)


def test_resize_matches_pillow_within_one_level():
    out = TRANSFORMS.build(dict(type='Resize', scale=(29, 17), backend='pillow'))({'img': IMG})['img']
    ref = np.asarray(Image.fromarray(ARR).resize((29, 17), Image.BILINEAR)).astype(int)
    assert np.abs(out.permute(1, 2, 0).numpy().astype(int) - ref).max() <= 1


def test_cutmix_box_matches_timm():
    """Same random draws as timm; MMPretrain (and fovea) take ``cut // 2`` below the centre where
    current timm takes ``(cut + 1) // 2``, so an odd-sized box is one pixel shorter."""
    timm_mixup = pytest.importorskip('timm.data.mixup')
    cutmix = BATCH_AUGMENTS.build(dict(type='CutMix', alpha=1.0))
    for seed in range(8):
        lam = 0.2 + 0.1 * seed
        np.random.seed(seed)
        yl, yh, xl, xh = cutmix.rand_bbox((32, 48), lam)
        np.random.seed(seed)
        ryl, ryh, rxl, rxh = (int(v) for v in timm_mixup.rand_bbox((3, 32, 48), lam))
        cut_h, cut_w = int(32 * np.sqrt(1 - lam)), int(48 * np.sqrt(1 - lam))
        assert (yl, xl) == (ryl, rxl)
        assert yh == (ryh if cut_h % 2 == 0 or ryh == 32 else ryh - 1)
        assert xh == (rxh if cut_w % 2 == 0 or rxh == 48 else rxh - 1)

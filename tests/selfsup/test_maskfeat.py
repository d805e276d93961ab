"""MaskFeat: HOG targets (orientation binning, cell normalisation, patch grouping), the mask token,
the mask from the pipeline, and HOG + loss against MMPretrain's on the same weights and masks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mim_testutil import mmpretrain_loss, samples_with_masks

from fovea.data.transforms import BEiTMaskGenerator
from fovea.registry import MODELS, build
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError

CFG = dict(type='MaskFeat',
           backbone=dict(type='MaskFeatViT', arch=dict(embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128),
                         img_size=224, patch_size=16),
           neck=dict(type='LinearNeck', in_channels=64, out_channels=108, norm_cfg=None,
                     init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0)),
           head=dict(type='MIMHead', loss=dict(type='PixelReconstructionLoss', criterion='L2')),
           target_generator=dict(type='HOGGenerator', nbins=9, pool=8, gaussian_window=16))


def _model():
    torch.manual_seed(0)
    model = build(CFG, MODELS)
    model.init_weights()
    return model


def _samples(n, seed=0):
    np.random.seed(seed)
    gen = BEiTMaskGenerator(input_size=14, num_masking_patches=78, min_num_patches=15)
    return [DataSample().set_field(gen({})['mask'], 'mask') for _ in range(n)]


def test_hog_of_a_vertical_edge():
    hog = build(dict(type='HOGGenerator', gaussian_window=0), MODELS)
    x = torch.zeros(1, 3, 16, 16)
    x[..., 8:] = 1.0                                        # dark left half, bright right half
    cells = hog.cell_histograms(x)
    assert cells.shape == (1, 3, 9, 2, 2)
    # the edge runs through the cells on both sides of x = 8; its gradient is horizontal (gy = 0):
    # atan2(gx, 0) = -pi/2 -> bin floor(-4.5) mod 9 = 4, the only bin with votes there
    assert torch.allclose(cells[0, :, :, :, :].norm(dim=1), torch.ones(3, 2, 2))
    assert (cells[0, :, 4] == 1).all()
    grouped = hog(torch.zeros(2, 3, 64, 64), patch_grid=4)
    assert grouped.shape == (2, 16, 3 * 9 * 4)
    with pytest.raises(DataError, match='Gaussian'):
        build(dict(type='HOGGenerator'), MODELS)(torch.zeros(1, 3, 24, 24))


def test_mask_token_replaces_masked_patches_only():
    model = _model().eval()
    bb = model.backbone
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        none = torch.zeros(2, 196, dtype=torch.bool)
        torch.testing.assert_close(bb(x, none), bb(x, mask=None)[0])
        bb.mask_token.normal_()
        some = none.clone()
        some[:, :10] = True
        assert not torch.allclose(bb(x, some), bb(x, none))


def test_loss_is_finite_and_needs_a_mask():
    model = _model().train()
    assert torch.isfinite(model.loss(torch.randn(2, 3, 224, 224), _samples(2))['loss'])
    with pytest.raises(ConfigError, match='BEiTMaskGenerator'):
        model.loss(torch.randn(2, 3, 224, 224), [DataSample(), DataSample()])


@pytest.mark.reference
def test_hog_and_loss_match_mmpretrain(tmp_path):
    model = _model().train()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    masks = torch.stack([s.mask for s in _samples(2)])
    hog_path = tmp_path / 'hog.pth'
    ref = mmpretrain_loss(CFG, model.state_dict(), x, masks.long(), tmp_path,
                          setup=f"torch.save(model.target_generator(data['inputs']), {str(hog_path)!r})")
    torch.testing.assert_close(model.target_generator(x), torch.load(hog_path), atol=1e-5, rtol=1e-4)
    assert model.loss(x, samples_with_masks(masks))['loss'].item() == pytest.approx(ref['loss'], rel=1e-5, abs=1e-6)

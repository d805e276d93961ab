"""Colorization: sRGB <-> Lab against known values and round trip, the L/ab split, the quantised-ab
rebalanced loss (and regression) falling on a fixed batch, the picture, and clear errors."""
from __future__ import annotations

import pytest
import torch

from pretext_testutil import BACKBONE, batch, build_model, images, run_pipeline, train_losses

from fovea.data.transforms.pretext import lab_to_rgb, rgb_to_lab
from fovea.models.heads.colorization_head import ColorizationHead
from fovea.tools.colorization import colorization_picture, save_colorization_picture
from fovea.utils.errors import ConfigError, DataError

CFG = dict(type='Colorization', backbone=dict(BACKBONE, in_channels=1, strides=(1, 2, 2, 1)),
           head=dict(type='ColorizationHead', in_channels=64, hid_channels=32),
           data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[120.], std=[60.]))
PIPELINE = [dict(type='LabColorization'), dict(type='PackInputs', algorithm_keys=['gt_ab'])]


def test_lab_matches_known_values_and_round_trips():
    rgb = torch.tensor([[1., 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0], [0.5, 0.5, 0.5]]).T.reshape(3, 1, 6)
    lab = rgb_to_lab(rgb).reshape(3, 6).T
    known = torch.tensor([[53.2408, 80.0925, 67.2032], [87.7347, -86.1827, 83.1793], [32.2970, 79.1875, -107.8602],
                          [100, 0, 0], [0, 0, 0], [53.3890, 0, 0]])
    torch.testing.assert_close(lab, known, atol=0.02, rtol=0)
    r = torch.randint(0, 256, (2, 3, 16, 16), generator=torch.Generator().manual_seed(0)).float() / 255
    assert (lab_to_rgb(rgb_to_lab(r)) - r).abs().max() * 255 < 0.01


def test_transform_splits_lightness_and_colour():
    img = images(1)[0]
    out = run_pipeline(PIPELINE[:1], [img])[0]
    lab = rgb_to_lab(img.float() / 255)
    assert out['img'].dtype == torch.uint8 and out['img'].shape == (1, 32, 32)
    assert (out['img'].float() / 2.55 - lab[0]).abs().max() <= 0.2 + 1e-4
    torch.testing.assert_close(out['gt_ab'], lab[1:])


def test_rebalancing_weights_favour_rare_colours():
    head = ColorizationHead(in_channels=4)
    assert head.num_bins == 22 * 22
    assert head.quantise(torch.tensor([-110., 109.9]).view(1, 2, 1, 1)).item() == 21
    head.prior.zero_()[0] = 0.9
    head.prior[200] = 0.1
    w = head.class_weights()
    assert w[0] < 1 < w[200] < w[300]                                 # rare bins weigh more; E_p[w] = 1


@pytest.mark.parametrize('mode', ['classification', 'regression'])
def test_training_lowers_the_loss(mode):
    model = build_model(dict(CFG, head=dict(CFG['head'], mode=mode)))
    data = batch(model, PIPELINE, n=4)
    assert data['inputs'].shape == (4, 1, 32, 32)
    losses = train_losses(model, data, lr=0.05)
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0] * 0.9, losses


def test_picture_rows_are_grey_input_prediction_and_original(tmp_path):
    model = build_model(CFG)
    imgs = images(3)
    pic = colorization_picture(model, imgs)
    assert pic.shape == (3, 96, 96) and pic.dtype == torch.uint8
    grey = pic[:, :32].int()
    assert (grey.max(0).values - grey.min(0).values).max() <= 1           # R = G = B
    assert (pic[:, 64:, 32:64].int() - imgs[1].int()).abs().max() <= 1    # the original, column 2
    assert save_colorization_picture(model, imgs, tmp_path / 'p.png').endswith('p.png')


def test_bad_inputs_are_clear_errors():
    model = build_model(CFG)
    with pytest.raises(ConfigError, match="3 channels.*LabColorization"):
        model.loss(torch.randn(2, 3, 32, 32))
    with pytest.raises(ConfigError, match=r"algorithm_keys=\['gt_ab'\]"):
        model.loss(torch.randn(2, 1, 32, 32), None)
    with pytest.raises(DataError, match='needs RGB images'):
        run_pipeline(PIPELINE[:1], [torch.zeros(1, 8, 8, dtype=torch.uint8)])
    with pytest.raises(ConfigError, match="'classification' or 'regression'"):
        ColorizationHead(in_channels=4, mode='l1')

"""RotationPred: the four rotated views are exact quarter turns, training lowers the loss on a fixed
batch, and non-square or already multi-view inputs are clear errors."""
from __future__ import annotations

import pytest
import torch

from pretext_testutil import BACKBONE, batch, build_model, images, run_pipeline, train_losses

from fovea.utils.errors import ConfigError, DataError

CFG = dict(type='RotationPred', backbone=BACKBONE, neck=dict(type='GlobalAveragePooling'),
           head=dict(type='LinearClsHead', num_classes=4, in_channels=64))
PIPELINE = [dict(type='RandomRotationWithLabels'), dict(type='PackInputs')]


def test_views_are_quarter_turns():
    img = images(1)[0]
    out = run_pipeline([dict(type='RandomRotationWithLabels')], [img])[0]
    assert out['rot_label'].tolist() == [0, 1, 2, 3]
    assert torch.equal(out['img'][0], img)
    assert torch.equal(out['img'][1], img.transpose(1, 2).flip(1))      # 90 degrees counter-clockwise
    for k, view in enumerate(out['img']):
        assert torch.equal(view, torch.rot90(img, k, dims=(1, 2)))
    assert torch.equal(out['img'][2], img.flip(1).flip(2))


def test_training_lowers_the_loss_and_predict_gives_features():
    model = build_model(CFG)
    data = batch(model, PIPELINE)
    assert len(data['inputs']) == 4 and data['inputs'][0].shape == (8, 3, 32, 32)
    out = model.loss(data['inputs'], data['data_samples'])
    assert set(out) == {'loss', 'accuracy_top-1'} and torch.isfinite(out['loss'])
    losses = train_losses(model, data)
    assert losses[-1] < losses[0] - 0.05, losses
    samples = model.eval()(torch.randn(2, 3, 32, 32), mode='predict')
    assert samples[0].feats.shape == (64,)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(DataError, match='square images.*RandomResizedCrop'):
        run_pipeline([dict(type='RandomRotationWithLabels')], [torch.zeros(3, 32, 24, dtype=torch.uint8)])
    with pytest.raises(DataError, match='not inside or after MultiView'):
        run_pipeline([dict(type='MultiView', num_views=2, transforms=[[]]), dict(type='RandomRotationWithLabels')],
                     images(1))
    with pytest.raises(ConfigError, match='takes 4 views per image, the pipeline gives 2'):
        build_model(CFG).loss([torch.randn(2, 3, 32, 32)] * 2)

"""Bad input to the two-view self-supervised algorithms is a ConfigError naming the config key and the
fix: one view where two are needed, another number of views, a batch too small for the loss or for the
BatchNorm of the projector (the last, short batch of an epoch too). (An SSL checkpoint loaded into a
backbone without its prefix: test_selfsup_checkpoints.py.)"""
from __future__ import annotations

import pytest
import torch

from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

from selfsup_testutil import TWO_VIEW_CFGS

NAMES = sorted(TWO_VIEW_CFGS)


def _model(name):
    model = build(TWO_VIEW_CFGS[name], MODELS)
    model.init_weights()
    return model.train()


def _views(n, k=2, size=32):
    return [torch.randn(n, 3, size, size) for _ in range(k)]


@pytest.mark.parametrize('name', NAMES)
def test_a_single_view_pipeline_names_multiview_and_the_pipeline_key(name):
    with pytest.raises(ConfigError, match=r"needs several views.*dict\(type='MultiView', num_views=2.*"
                                          r"train_dataloader\.dataset\.pipeline"):
        _model(name).loss(torch.randn(4, 3, 32, 32))


@pytest.mark.parametrize('name', NAMES)
def test_another_view_count_names_num_views_and_the_pipeline_key(name):
    with pytest.raises(ConfigError, match=r'takes 2 views per image, the pipeline gives 3: set num_views=2 in '
                                          r'the MultiView transform of train_dataloader\.dataset\.pipeline'):
        _model(name).loss(_views(4, k=3))


@pytest.mark.parametrize('name, why', [
    ('SimCLR', 'the other images of the batch are its negatives'),
    ('BarlowTwins', 'its loss standardises each embedding dimension over the batch'),
    ('BYOL', 'the BatchNorm layers neck.bn0, head.predictor.bn0 normalise over the batch'),
    ('MoCoV3', 'the BatchNorm layers neck.bn0, head.predictor.bn0 normalise over the batch'),
])
def test_a_batch_of_one_image_names_batch_size_and_drop_last(name, why):
    """Before: SimCLR said so, BYOL, Barlow Twins and MoCo v3 failed inside BatchNorm ('Expected more than 1
    value per channel when training')."""
    with pytest.raises(ConfigError) as err:
        _model(name).loss(_views(1))
    msg = str(err.value)
    assert f'{name} needs at least 2 images per batch in each process ({why}), this batch has 1' in msg
    assert 'train_dataloader.batch_size' in msg and 'train_dataloader.drop_last=True' in msg


def test_algorithms_that_work_on_one_image_are_not_refused():
    """MoCo's negatives come from its queue and its projector has no BatchNorm: one image per batch trains
    (at 64 px, where the ResNet's last map is 2 x 2 for its own BatchNorm)."""
    loss = _model('MoCo').loss(_views(1, size=64))['loss']
    assert torch.isfinite(loss)


def test_evaluation_takes_any_batch():
    model = _model('BYOL').eval()
    assert len(model.predict(_views(1))) == 1

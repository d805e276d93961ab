"""Mixup / CutMix / ResizeMix: soft targets that sum to one, boxes that match lambda."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fovea.registry import BATCH_AUGMENTS, MODELS
from fovea.structures import DataSample


def _batch(n=8, c=10):
    labels = torch.arange(n) % c
    return torch.rand(n, 3, 32, 32), F.one_hot(labels, c).float()


@pytest.mark.parametrize('cfg', [dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0),
                                 dict(type='CutMix', alpha=1.0, cutmix_minmax=[0.2, 0.8]),
                                 dict(type='ResizeMix', alpha=1.0)], ids=lambda c: c['type'])
def test_targets_sum_to_one(cfg):
    aug = BATCH_AUGMENTS.build(cfg)
    np.random.seed(0)
    for _ in range(5):
        x, y = _batch()
        mx, my = aug(x.clone(), y)
        assert mx.shape == x.shape and my.shape == y.shape
        assert torch.allclose(my.sum(1), torch.ones(8)) and (my >= 0).all()
        assert (my > 0).sum(1).max() <= 2  # each row mixes at most two classes


def test_cutmix_lambda_is_pasted_area():
    aug = BATCH_AUGMENTS.build(dict(type='CutMix', alpha=1.0))
    np.random.seed(3)
    torch.manual_seed(3)
    x = torch.arange(4).float().view(4, 1, 1, 1).expand(4, 1, 20, 20).clone()  # image i is constant i
    y = F.one_hot(torch.arange(4), 4).float()
    mx, my = aug(x, y)
    for i in range(4):
        own = (mx[i] == i).float().mean().item()
        if my[i, i] < 1:  # a partner was pasted: the kept area fraction is the target weight
            assert my[i, i].item() == pytest.approx(own, abs=1e-6)


def test_mixup_is_convex_combination():
    aug = BATCH_AUGMENTS.build(dict(type='Mixup', alpha=1.0))
    np.random.seed(1)
    torch.manual_seed(1)
    x = torch.arange(4).float().view(4, 1, 1, 1).expand(4, 1, 2, 2).clone()
    y = F.one_hot(torch.arange(4), 4).float()
    mx, my = aug(x, y)
    assert torch.allclose(mx[:, 0, 0, 0], my @ torch.arange(4).float())  # pixel value = target-weighted mean


def test_random_batch_augment_probs_and_preprocessor():
    rba = BATCH_AUGMENTS.build(dict(type='RandomBatchAugment', augments=[dict(type='Mixup', alpha=0.8)], probs=0.5,
                                    num_classes=10))
    assert rba.probs == [0.5, 0.5] and rba.augments[-1] is None
    np.random.seed(0)
    x, y = _batch()
    changed = sum(not torch.equal(rba(x, y)[0], x) for _ in range(40))
    assert 8 < changed < 32
    pre = MODELS.build(dict(type='ClsDataPreprocessor', num_classes=5, batch_augments=dict(
        augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)], probs=[0.5, 0.5])))
    data = {'inputs': torch.randint(0, 255, (6, 3, 8, 8), dtype=torch.uint8),
            'data_samples': [DataSample().set_gt_label(i % 5) for i in range(6)]}
    out = pre(data, training=True)
    scores = torch.stack([s.gt_score for s in out['data_samples']])
    assert torch.allclose(scores.sum(1), torch.ones(6))


def test_soft_targets_with_label_smoothing():
    """Mixed targets are valid for a soft-target cross entropy with label smoothing folded in."""
    aug = BATCH_AUGMENTS.build(dict(type='CutMix', alpha=1.0))
    x, y = _batch(c=10)
    _, my = aug(x, y)
    eps = 0.1
    smoothed = my * (1 - eps) + eps / 10
    assert torch.allclose(smoothed.sum(1), torch.ones(8))


def test_bad_config_messages():
    from fovea.utils.errors import ConfigError
    with pytest.raises(ConfigError, match='alpha must be a positive number'):
        BATCH_AUGMENTS.build(dict(type='Mixup', alpha=0))
    with pytest.raises(ConfigError, match='probs sum to'):
        BATCH_AUGMENTS.build(dict(type='RandomBatchAugment', augments=[dict(type='Mixup', alpha=1.)], probs=[1.5]))

"""GeM neck, stacked and multi-label heads, label-smooth / focal / asymmetric losses."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fovea.models.heads import MultiLabelClsHead, MultiLabelLinearClsHead, StackedLinearClsHead
from fovea.models.losses import AsymmetricLoss, FocalLoss, LabelSmoothLoss
from fovea.models.necks import GeneralizedMeanPooling
from fovea.registry import MODELS
from fovea.structures import DataSample


def test_gem_between_average_and_max():
    x = torch.rand(2, 4, 5, 5) + 0.01
    torch.testing.assert_close(GeneralizedMeanPooling(p=1)(x), x.mean((2, 3)))
    high = GeneralizedMeanPooling(p=64)(x)
    assert torch.all(high <= x.amax((2, 3)) + 1e-6) and torch.all(high > 0.9 * x.amax((2, 3)))
    mid = GeneralizedMeanPooling(p=3)((x, x))
    assert isinstance(mid, tuple) and torch.all(mid[0] >= x.mean((2, 3)))
    neck = GeneralizedMeanPooling(p=3, p_trainable=True)
    neck(x).sum().backward()
    assert neck.p.grad is not None and 'p' in dict(neck.named_parameters())
    with pytest.raises(ValueError, match='p >= 1'):
        GeneralizedMeanPooling(p=0.5)


def test_stacked_linear_head():
    head = MODELS.build(dict(type='StackedLinearClsHead', num_classes=10, in_channels=32, mid_channels=[64, 16],
                             dropout_rate=0.2, norm_cfg=dict(type='BN1d'), act_cfg=dict(type='HSwish')))
    head.init_weights()
    feats = (torch.randn(4, 32),)
    assert head.pre_logits(feats).shape == (4, 16)
    assert head(feats).shape == (4, 10)
    assert [type(m).__name__ for m in (head.layers[0].norm, head.layers[0].act)] == ['BatchNorm1d', 'Hardswish']
    assert head.layers[-1].act is None and head.layers[-1].norm is None
    losses = head.loss(feats, [DataSample().set_gt_label(i) for i in range(4)])
    assert losses['loss'] > 0
    with pytest.raises(ValueError, match='mid_channels'):
        StackedLinearClsHead(10, 32, mid_channels=[])


def _ml_samples():
    return [DataSample().set_gt_label([0, 2]), DataSample().set_gt_label([1]), DataSample().set_gt_label([])]


def test_multi_label_linear_head_loss_and_predictions():
    head = MultiLabelLinearClsHead(num_classes=4, in_channels=8)
    feats = (torch.randn(3, 8),)
    logits = head(feats)
    target = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    want = head.loss_module(logits, target, avg_factor=3)
    torch.testing.assert_close(head.loss(feats, _ml_samples())['loss'], want)
    # soft targets (gt_score) take precedence over indices
    soft = [DataSample().set_gt_score([0.5, 0, 0, 0.5]) for _ in range(3)]
    assert not torch.allclose(head.loss(feats, soft)['loss'], want)
    preds = MultiLabelClsHead(thr=0.5).predict(torch.tensor([[2., -2., 0.5, -0.1]]))
    assert preds[0].pred_label.tolist() == [0, 2]
    preds = MultiLabelClsHead(topk=3).predict(torch.tensor([[2., -2., 0.5, -0.1]]))
    assert sorted(preds[0].pred_label.tolist()) == [0, 2, 3]
    with pytest.raises(ValueError, match='outside'):
        head.loss(feats, [DataSample().set_gt_label([7])] * 3)


def test_label_smooth_original_equals_torch_label_smoothing():
    logits, labels = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    got = LabelSmoothLoss(0.1)(logits, labels)
    torch.testing.assert_close(got, F.cross_entropy(logits, labels, label_smoothing=0.1))


def test_label_smooth_classy_vision_and_multi_label_modes():
    logits, labels = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    one_hot = F.one_hot(labels, 5).float()
    target = (one_hot + 0.2 / 5) / 1.2
    want = -(target * F.log_softmax(logits, -1)).sum(-1).mean()
    torch.testing.assert_close(LabelSmoothLoss(0.2, mode='classy_vision')(logits, labels), want)
    ml = LabelSmoothLoss(0.1, mode='multi_label')
    assert ml.use_sigmoid
    smoothed = ml.smooth(one_hot)
    assert smoothed.unique().tolist() == pytest.approx([0.1, 0.9])
    with pytest.raises(ValueError, match='mode'):
        LabelSmoothLoss(0.1, mode='bogus')
    with pytest.raises(ValueError, match='num_classes=3'):
        LabelSmoothLoss(0.1, num_classes=3)(logits, labels)


def test_focal_loss_matches_torchvision():
    ops = pytest.importorskip('torchvision.ops')
    logits, target = torch.randn(5, 7), (torch.rand(5, 7) > 0.6).float()
    got = FocalLoss(gamma=2.0, alpha=0.25)(logits, target)
    want = ops.sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0, reduction='mean')
    torch.testing.assert_close(got, want)
    hard = FocalLoss()(logits, torch.tensor([0, 1, 2, 3, 4]))  # indices become one-hot targets
    torch.testing.assert_close(hard, FocalLoss()(logits, F.one_hot(torch.tensor([0, 1, 2, 3, 4]), 7).float()))


def test_asymmetric_loss():
    logits, target = torch.randn(4, 6), (torch.rand(4, 6) > 0.5).float()
    plain = AsymmetricLoss(gamma_pos=0, gamma_neg=0, clip=0)(logits, target)
    torch.testing.assert_close(plain, F.binary_cross_entropy_with_logits(logits, target), rtol=1e-5, atol=1e-6)
    # probability shifting: a negative scored below the clip margin costs nothing
    easy_negative = torch.tensor([[torch.logit(torch.tensor(0.03)).item()]])
    assert AsymmetricLoss(clip=0.05)(easy_negative, torch.zeros(1, 1)).item() == 0
    focused = AsymmetricLoss(gamma_pos=1, gamma_neg=4)(logits, target)
    assert 0 < focused < plain
    assert AsymmetricLoss(reduction='none')(logits, target).shape == (4, 6)

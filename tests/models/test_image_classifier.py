"""ImageClassifier's MMPretrain-style methods: loss, predict, extract_feat(stage=...), extract_feats."""
import pytest
import torch

from fovea.registry import MODELS
from fovea.structures import DataSample


def _model():
    torch.manual_seed(0)
    m = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                                                                base_channels=8, out_indices=(2, 3)),
                          neck=dict(type='GlobalAveragePooling'),
                          head=dict(type='LinearClsHead', num_classes=5, in_channels=64)))
    return m.eval()


def test_methods_agree_with_forward_modes():
    m = _model()
    x = torch.randn(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(4)]
    losses = m.loss(x, samples)
    assert set(losses) == {'loss'} and torch.equal(losses['loss'], m(x, samples, mode='loss')['loss'])
    preds = m.predict(x)
    assert len(preds) == 2 and torch.equal(preds[0].pred_score, m(x, mode='predict')[0].pred_score)
    backbone = m.extract_feat(x, stage='backbone')
    assert [t.shape[1] for t in backbone] == [32, 64]
    neck = m.extract_feat(x)
    assert [t.shape for t in neck] == [(2, 32), (2, 64)]
    assert m.extract_feat(x, stage='pre_logits').shape == (2, 64)
    assert torch.equal(m(x), m.head(neck))  # mode='tensor': the logits
    both = m.extract_feats([x, x.flip(-1)], stage='pre_logits')
    assert len(both) == 2 and torch.equal(both[0], m.extract_feat(x, stage='pre_logits'))


def test_bad_stage_and_single_tensor_are_explained():
    m = _model()
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="'backbone', 'neck' or 'pre_logits'"):
        m.extract_feat(x, stage='head')
    with pytest.raises(TypeError, match='use extract_feat'):
        m.extract_feats(x)
    m.head = None
    with pytest.raises(ValueError, match='no head'):
        m.extract_feat(x, stage='pre_logits')

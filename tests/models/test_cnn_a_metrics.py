"""SingleLabelMetric, ConfusionMatrix, MultiLabelMetric and AveragePrecision against scikit-learn."""
from __future__ import annotations

import pytest
import torch

from fovea.evaluation import AveragePrecision, ConfusionMatrix, MultiLabelMetric, SingleLabelMetric
from fovea.evaluation.base import Evaluator
from fovea.structures import DataSample

skm = pytest.importorskip('sklearn.metrics')

g = torch.Generator().manual_seed(0)
SCORES = torch.rand(60, 5, generator=g).softmax(-1)
LABELS = torch.randint(0, 5, (60,), generator=g)
PRED = SCORES.argmax(1)


@pytest.mark.parametrize('average', ['macro', 'micro', None])
def test_single_label_precision_recall_f1(average):
    (p, r, f, s), = SingleLabelMetric.calculate(SCORES, LABELS, thrs=(0.,), average=average)
    want = skm.precision_recall_fscore_support(LABELS, PRED, average=average, zero_division=0)
    for ours, ref in zip((p, r, f), want[:3]):
        torch.testing.assert_close(ours.double(), torch.as_tensor(ref * 100).double(), rtol=1e-5, atol=1e-4)
    if average is None:
        assert s.tolist() == want[3].tolist()


def test_single_label_metric_through_the_evaluator():
    samples = [DataSample().set_gt_label(int(t)).set_pred_score(s) for s, t in zip(SCORES, LABELS)]
    ev = Evaluator([dict(type='SingleLabelMetric', items=('precision', 'recall', 'f1-score', 'support')),
                    dict(type='SingleLabelMetric', thrs=(None, 0.3), prefix='thr'),
                    dict(type='ConfusionMatrix')])
    ev.process(samples)
    out = ev.evaluate(len(samples))
    ref = skm.precision_recall_fscore_support(LABELS, PRED, average='macro', zero_division=0)
    assert out['single-label/precision'] == pytest.approx(ref[0] * 100, abs=1e-4)
    assert out['single-label/support'] == 60
    # a threshold only removes predictions: recall cannot rise
    assert out['thr/recall_thr-0.30'] <= out['thr/recall_no-thr'] + 1e-9
    cm = out['confusion_matrix/result']
    assert cm.tolist() == skm.confusion_matrix(LABELS, PRED, labels=range(5)).tolist()


def test_single_label_from_labels_needs_num_classes():
    p, r, f, _ = SingleLabelMetric.calculate(PRED, LABELS, num_classes=5, average='macro')
    assert f.item() == pytest.approx(skm.f1_score(LABELS, PRED, average='macro') * 100, abs=1e-4)
    with pytest.raises(ValueError, match='num_classes'):
        SingleLabelMetric.calculate(PRED, LABELS)
    with pytest.raises(ValueError, match='average'):
        SingleLabelMetric(average='weighted')


ML_SCORES = torch.rand(40, 6, generator=g)
ML_TARGET = (torch.rand(40, 6, generator=g) > 0.6).long()


@pytest.mark.parametrize('average', ['macro', 'micro'])
def test_multi_label_metric_threshold_and_topk(average):
    p, r, f, _ = MultiLabelMetric.calculate(ML_SCORES, ML_TARGET, average=average, thr=0.5)
    pred = (ML_SCORES >= 0.5).long()
    want = skm.precision_recall_fscore_support(ML_TARGET, pred, average=average, zero_division=0)
    assert p.item() == pytest.approx(want[0] * 100, abs=1e-4)
    assert r.item() == pytest.approx(want[1] * 100, abs=1e-4)
    if average == 'micro':
        assert f.item() == pytest.approx(want[2] * 100, abs=1e-4)
    top = MultiLabelMetric.calculate(ML_SCORES, ML_TARGET, average=average, topk=2)
    top_pred = torch.zeros_like(ML_TARGET).scatter_(1, ML_SCORES.topk(2, 1).indices, 1)
    assert top[1].item() == pytest.approx(
        skm.recall_score(ML_TARGET, top_pred, average=average, zero_division=0) * 100, abs=1e-4)


def test_average_precision_matches_sklearn_and_ignores_difficult():
    ap = AveragePrecision.calculate(ML_SCORES, ML_TARGET, average=None)
    want = [skm.average_precision_score(ML_TARGET[:, k], ML_SCORES[:, k]) * 100 for k in range(6)]
    assert ap.tolist() == pytest.approx(want, abs=1e-3)
    difficult = ML_TARGET.clone()
    difficult[:5] = -1
    ap_d = AveragePrecision.calculate(ML_SCORES, difficult, average='macro')
    want_d = sum(skm.average_precision_score(ML_TARGET[5:, k], ML_SCORES[5:, k]) for k in range(6)) / 6 * 100
    assert ap_d.item() == pytest.approx(want_d, abs=1e-3)


def test_multi_label_metrics_through_the_evaluator():
    samples = [DataSample().set_gt_label(torch.where(t == 1)[0]).set_pred_score(s)
               for s, t in zip(ML_SCORES, ML_TARGET)]
    ev = Evaluator([dict(type='MultiLabelMetric', thr=0.3), dict(type='AveragePrecision')])
    ev.process(samples)
    out = ev.evaluate(len(samples))
    assert set(out) == {'multi-label/precision_thr-0.30', 'multi-label/recall_thr-0.30',
                        'multi-label/f1-score_thr-0.30', 'multi-label/mAP'}
    assert out['multi-label/mAP'] == pytest.approx(
        skm.average_precision_score(ML_TARGET, ML_SCORES, average='macro') * 100, abs=1e-3)
    with pytest.warns(UserWarning, match='using the threshold'):  # as MMPretrain: thr wins over topk
        both = MultiLabelMetric(thr=0.5, topk=2)
    assert both.thr == 0.5 and both.topk is None

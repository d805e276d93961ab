"""Metrics called as MMEngine and MMPretrain users call them (issue 22 item 3)."""
import numpy as np
import pytest
import torch

from fovea.evaluation import (Accuracy, AveragePrecision, ConfusionMatrix, Evaluator, MultiLabelMetric,
                              SingleLabelMetric)
from fovea.structures import DataSample

SCORES = [[0.7, 0.0, 0.3], [0.5, 0.2, 0.3], [0.4, 0.5, 0.1], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
LABELS = [0, 0, 1, 2, 1, 0]


def _samples(as_dict):
    out = []
    for score, label in zip(SCORES, LABELS):
        s = DataSample().set_pred_score(torch.tensor(score)).set_gt_label(label)
        out.append(s.to_dict() if as_dict else s)
    return out


@pytest.mark.parametrize('as_dict', [False, True])
def test_process_takes_data_samples_and_their_dicts(as_dict):
    ev = Evaluator([dict(type='Accuracy', topk=1, thrs=(None, 0.6)), dict(type='SingleLabelMetric'),
                    dict(type='ConfusionMatrix')])
    ev.process(_samples(as_dict))
    res = ev.evaluate(len(LABELS))
    assert res['accuracy/top1_no-thr'] == pytest.approx(4 / 6 * 100)
    assert res['accuracy/top1_thr-0.60'] == pytest.approx(2 / 6 * 100)
    assert res['confusion_matrix/result'].tolist() == [[2, 0, 1], [0, 1, 1], [0, 0, 1]]
    # dicts from MMEngine's BaseDataElement.to_dict() hold tensors
    tensor_dicts = [{'pred_score': torch.tensor(s), 'gt_label': torch.tensor([g])} for s, g in zip(SCORES, LABELS)]
    ev.process(tensor_dicts)
    again = ev.evaluate(len(LABELS))
    assert torch.equal(again.pop('confusion_matrix/result'), res.pop('confusion_matrix/result')) and again == res


def test_accuracy_calculate_takes_lists_arrays_and_labels():
    acc = Accuracy.calculate(SCORES, np.array(LABELS), thrs=(0.6,))
    assert isinstance(acc, list) and isinstance(acc[0][0], torch.Tensor)
    assert acc[0][0].item() == pytest.approx(2 / 6 * 100)
    by_label = Accuracy.calculate(torch.tensor([0, 0, 1, 2, 2, 2]), LABELS)
    assert by_label.item() == pytest.approx(4 / 6 * 100)
    with pytest.raises(TypeError, match="<class 'str'> is not"):
        Accuracy.calculate(by_label, 'hi')
    with pytest.raises(ValueError, match='Top-5 accuracy .* is 3'):
        Accuracy.calculate(SCORES, LABELS, topk=(1, 5))


def test_accuracy_too_large_topk_names_the_evaluator_config():
    metric = Accuracy(topk=(1, 5))
    metric.process(None, _samples(True))
    with pytest.raises(ValueError, match='check the `val_evaluator`'):
        metric.evaluate(6)


def test_accuracy_from_predicted_labels_only():
    metric = Accuracy()
    metric.process(None, [DataSample().set_pred_label(p).set_gt_label(g).to_dict()
                          for p, g in zip([0, 0, 1, 2, 2, 2], LABELS)])
    assert metric.evaluate(6) == {'accuracy/top1': pytest.approx(4 / 6 * 100)}


def test_single_label_calculate_and_key_names():
    (p, r, f, s), = SingleLabelMetric.calculate(SCORES, LABELS, thrs=(0.,))
    assert isinstance(p, torch.Tensor)
    p_lab, *_ = SingleLabelMetric.calculate([0, 0, 1, 2, 2, 2], torch.tensor(LABELS), num_classes=3)
    assert p_lab.item() == pytest.approx(p.item())
    with pytest.raises(TypeError, match="<class 'str'> is not"):
        SingleLabelMetric.calculate(SCORES, 'hi')
    for average, key in [(None, 'single-label/precision_classwise'), ('micro', 'single-label/precision_micro'),
                         ('macro', 'single-label/precision')]:
        m = SingleLabelMetric(average=average)
        m.process(None, _samples(True))
        assert key in m.evaluate(6)
    labels_only = SingleLabelMetric()
    with pytest.raises(ValueError, match='num_classes'):
        labels_only.process(None, [DataSample().set_pred_label(0).set_gt_label(0)])


def test_multi_label_calculate_with_indices_and_thr_over_topk():
    pred = [[0], [1, 2], [2]]
    target = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    p, r, f, s = MultiLabelMetric.calculate(pred, target, pred_indices=True, num_classes=3)
    assert p.item() == pytest.approx((100 + 100 + 50) / 3)  # per class: class 2 is half right and r.item() == pytest.approx(100)
    scores = torch.tensor([[0.9, 0.6, 0.1], [0.2, 0.8, 0.7], [0.1, 0.2, 0.9]])
    by_thr = MultiLabelMetric.calculate(scores, target, thr=0.75, topk=2)
    assert by_thr[0].item() == pytest.approx(100.0)  # thr decides: one prediction per row, all right
    with pytest.warns(UserWarning, match='using the threshold'):
        metric = MultiLabelMetric(thr=0.75, topk=2, average=None)
    metric.process(None, [DataSample().set_pred_score(sc).set_gt_label(torch.where(t)[0]).to_dict()
                          for sc, t in zip(scores, target)])
    assert metric.evaluate(3)['multi-label/precision_thr-0.75_classwise'] == pytest.approx([100.0] * 3)
    with pytest.raises(ValueError, match='num_classes'):
        MultiLabelMetric.calculate(pred, target, pred_indices=True)


def test_average_precision_classwise_key():
    metric = AveragePrecision(average=None)
    metric.process(None, [DataSample().set_pred_score(torch.tensor([0.9, 0.1])).set_gt_label(0).to_dict(),
                          DataSample().set_pred_score(torch.tensor([0.2, 0.8])).set_gt_label(1).to_dict()])
    assert metric.evaluate(2) == {'multi-label/AP_classwise': pytest.approx([100.0, 100.0])}


def test_confusion_matrix_plot():
    matplotlib = pytest.importorskip('matplotlib')
    matplotlib.use('Agg')
    cm = ConfusionMatrix.calculate(SCORES, LABELS)
    fig = ConfusionMatrix.plot(cm, include_values=True, classes=['a', 'b', 'c'], show=False)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ['a', 'b', 'c']
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in cm.flatten().tolist())

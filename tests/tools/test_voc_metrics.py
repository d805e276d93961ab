"""VOCMultiLabelMetric / VOCAveragePrecision: difficult-only classes ignored, counted or dropped."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from fovea.evaluation import VOCAveragePrecision, VOCMultiLabelMetric
from fovea.structures import DataSample

REF_PYTHON = Path('/work/refvenv/bin/python')

# 4 images, 3 classes; image 0 has class 2 only as a difficult object, image 3 class 0
CASES = [
    dict(score=[0.9, 0.2, 0.7], labels=[0], difficult=[2]),
    dict(score=[0.1, 0.8, 0.4], labels=[1], difficult=[]),
    dict(score=[0.6, 0.3, 0.9], labels=[0, 2], difficult=[]),
    dict(score=[0.7, 0.6, 0.1], labels=[1], difficult=[0, 1]),
]


def _samples():
    out = []
    for c in CASES:
        s = DataSample().set_gt_label(c['labels']).set_pred_score(c['score'])
        s.set_metainfo({'gt_label_difficult': c['difficult']})
        out.append(s)
    return out


def _evaluate(metric):
    metric.process(None, _samples())
    return metric.evaluate(len(CASES))


def test_difficult_only_classes_are_ignored_by_default():
    ap = _evaluate(VOCAveragePrecision(average=None))
    # class 0: positives images 2 (0.6) and 0 (0.9); image 3 (0.7, difficult) ignored -> AP 1
    # class 2: image 0 (0.7) ignored; positive image 2 (0.9) ranks first -> AP 1
    # class 1: positives images 1 (0.8) and 3 (0.6) rank 1 and 2 -> AP 1
    assert ap['multi-label/AP_classwise'] == pytest.approx([100.0, 100.0, 100.0])
    counted = _evaluate(VOCAveragePrecision(average=None, difficult_as_positive=False))
    # counted as negatives, image 3 (0.7) outranks the positive image 2 (0.6) for class 0
    assert counted['multi-label/AP_classwise'][0] == pytest.approx((1 / 1 + 2 / 3) / 2 * 100)
    positive = _evaluate(VOCAveragePrecision(average=None, difficult_as_positive=True))
    assert positive['multi-label/AP_classwise'][2] == pytest.approx(100.0)   # 0.9 and 0.7 are both positives


def test_multilabel_metric_ignores_difficult_predictions():
    res = _evaluate(VOCMultiLabelMetric(average='micro'))
    # at thr 0.5 predictions: {0,2}, {1}, {0,2}, {0,1}; ignored targets: (0, 2), (3, 0)
    # counted predictions: {0}, {1}, {0,2}, {1} -> 5 predicted, 5 true, all correct
    assert res['multi-label/precision_micro'] == pytest.approx(100.0)
    assert res['multi-label/recall_micro'] == pytest.approx(100.0)
    plain = _evaluate(VOCMultiLabelMetric(average='micro', difficult_as_positive=False))
    assert plain['multi-label/precision_micro'] == pytest.approx(5 / 7 * 100)


@pytest.mark.reference
@pytest.mark.parametrize('difficult_as_positive', [None, True, False])
def test_matches_mmpretrain(difficult_as_positive, tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.evaluation import VOCMultiLabelMetric, VOCAveragePrecision
from mmpretrain.structures import DataSample
cases = json.loads({json.dumps(json.dumps(CASES))})
out = {{}}
for name, m in [('f1', VOCMultiLabelMetric(difficult_as_positive={difficult_as_positive})),
                ('ap', VOCAveragePrecision(difficult_as_positive={difficult_as_positive}))]:
    samples = []
    for c in cases:
        s = DataSample().set_gt_label(c['labels']).set_pred_score(torch.tensor(c['score']))
        s.set_metainfo(dict(gt_label_difficult=c['difficult']))
        samples.append(s.to_dict())
    m.process(None, samples)
    out.update(m.evaluate(len(cases)))
print(json.dumps(out))
''')
    env = dict(os.environ, PYTHONPATH='')
    ref = json.loads(subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env,
                                    check=True).stdout.strip().splitlines()[-1])
    ours = _evaluate(VOCMultiLabelMetric(difficult_as_positive=difficult_as_positive))
    ours.update(_evaluate(VOCAveragePrecision(difficult_as_positive=difficult_as_positive)))
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=1e-4), key

"""`fovea test --out` per-sample predictions and `--tta`: numbers equal the in-process computation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fovea.cli.main import main


def _cli(argv) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


def _val_inputs(model):
    from fovea.tools.results import build_test_loader
    xs, ys = [], []
    for batch in build_test_loader(model.cfg):
        d = model.data_preprocessor(batch, False)
        xs.append(d['inputs'])
        ys.append(torch.cat([s.gt_label for s in d['data_samples']]))
    return torch.cat(xs), torch.cat(ys)


@pytest.fixture(scope='module')
def val_logits(lenet_run):
    from fovea.apis.inference import build_inference_model
    model = build_inference_model('lenet5_digits', lenet_run['checkpoint'], 'cpu')
    x, y = _val_inputs(model)
    with torch.no_grad():
        return model(x, mode='tensor').softmax(1), model(x.flip(-1), mode='tensor').softmax(1), y


def test_out_has_per_sample_predictions(lenet_run, tmp_path, val_logits):
    out = tmp_path / 'results.json'
    assert _cli(['test', 'lenet5_digits', lenet_run['checkpoint'], '--out', str(out), '--work-dir',
                 str(tmp_path / 'w'), '--device', 'cpu', '--precision', 'fp32']) == 0
    data = json.loads(out.read_text())
    preds = data['predictions']
    probs, _, y = val_logits
    assert len(preds) == 364 and [p['sample_idx'] for p in preds] == list(range(364))
    np.testing.assert_allclose(np.array([p['pred_scores'] for p in preds]), probs.numpy(), atol=3e-5)  # the runner uses channels_last
    acc = 100 * np.mean([p['pred_label'] == p['gt_label'] for p in preds])
    assert acc == pytest.approx(data['metrics']['accuracy/top1'], abs=1e-3)
    assert [p['gt_label'] for p in preds] == y.tolist()


def test_tta_flip_averages_scores(lenet_run, tmp_path, val_logits):
    out = tmp_path / 'tta.json'
    assert _cli(['test', 'lenet5_digits', lenet_run['checkpoint'], '--tta', '--out', str(out), '--work-dir',
                 str(tmp_path / 'w'), '--device', 'cpu', '--precision', 'fp32']) == 0
    data = json.loads(out.read_text())
    probs, flipped, y = val_logits
    expected = (probs + flipped) / 2
    got = np.array([p['pred_scores'] for p in data['predictions']])
    np.testing.assert_allclose(got, expected.numpy(), atol=3e-5)
    assert data['tta'] == 'flip'
    acc = 100 * np.mean(got.argmax(1) == y.numpy())
    assert data['metrics']['accuracy/top1'] == pytest.approx(acc, abs=1e-3)
    assert (got.argmax(1) == expected.argmax(1).numpy()).mean() > 0.99


def test_tta_views():
    from fovea.tools.tta import tta_views
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    v = tta_views(x, flip=True, multi_crop=True)
    assert len(v) == 12 and all(t.shape == x.shape for t in v)
    torch.testing.assert_close(v[6], x.flip(-1))
    # the top-left crop (7x7 of 8x8) resized back starts at the same pixel
    assert v[1][0, 0, 0, 0] == x[0, 0, 0, 0]
    with pytest.raises(ValueError, match='flip=True or multi_crop=True'):
        from fovea.tools.tta import enable_tta
        enable_tta(torch.nn.Linear(1, 1), flip=False)

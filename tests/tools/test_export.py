"""`fovea export`: ONNX and TorchScript files that load, run and match PyTorch."""
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


def test_onnx_dynamic_batch_with_preprocess_matches_inferencer(lenet_run, digit_images, tmp_path):
    pytest.importorskip('onnxruntime')
    onnx = pytest.importorskip('onnx')
    from fovea.apis import ImageClassificationInferencer
    from fovea.tools.export import run_onnx
    out, rep = tmp_path / 'lenet.onnx', tmp_path / 'report.json'
    assert _cli(['export', 'lenet5_digits', '--checkpoint', lenet_run['checkpoint'], '--out', str(out),
                 '--dynamic-batch', '--with-preprocess', '--opset', '18', '--report', str(rep)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert any(o.version == 18 for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    report = json.loads(rep.read_text())
    assert report['max_abs_diff'] < 1e-4 and report['checked_batches'] == [2, 5]
    # real digits, resized as the test pipeline does, through onnxruntime: same probabilities as the inferencer
    imgs, _ = digit_images
    x = torch.stack([torch.nn.functional.interpolate(i[None].float(), size=32, mode='bilinear', antialias=True)[0]
                     for i in imgs[:7]]).round().clamp(0, 255).to(torch.uint8)
    logits = run_onnx(out, x.numpy())
    assert logits.shape == (7, 10)
    inf = ImageClassificationInferencer('lenet5_digits', pretrained=lenet_run['checkpoint'], device='cpu')
    ref = np.stack([r['pred_scores'] for r in inf(imgs[:7], batch_size=7)])
    got = torch.from_numpy(logits).softmax(1).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-2)  # uint8 rounding after resizing only
    assert (got.argmax(1) == ref.argmax(1)).all()


def test_torchscript_and_tolerance_failure(lenet_run, tmp_path, capsys):
    out = tmp_path / 'lenet.pt'
    assert _cli(['export', 'lenet5_digits', '--checkpoint', lenet_run['checkpoint'], '--format', 'torchscript',
                 '--out', str(out), '--shape', '32']) == 0
    ts = torch.jit.load(str(out))
    from fovea.apis.inference import build_inference_model
    model = build_inference_model('lenet5_digits', lenet_run['checkpoint'], 'cpu')
    x = torch.randn(3, 1, 32, 32)
    torch.testing.assert_close(ts(x), model(x, mode='tensor'))
    assert 'max |diff| = 0' in capsys.readouterr().out
    # a tolerance no float pipeline can meet makes the command fail (with_preprocess adds float ops)
    pytest.importorskip('onnxruntime')
    code = _cli(['export', 'lenet5_digits', '--checkpoint', lenet_run['checkpoint'], '--out', str(tmp_path / 'x.onnx'),
                 '--atol', '0', '--rtol', '0', '--with-preprocess', '--batch-size', '16'])
    printed = capsys.readouterr().out
    if code == 0:  # bit-identical outputs are allowed; then the report must say so
        assert 'max |diff| = 0 ' in printed
    else:
        assert code == 1 and 'FAILED' in printed and 'differs from PyTorch' in printed


def test_multilabel_head_onnx(tmp_path):
    pytest.importorskip('onnxruntime')
    from fovea.apis.inference import build_inference_model
    from fovea.config import Config
    from fovea.tools.export import export_model, run_onnx
    cfg = Config(dict(model=dict(
        type='ImageClassifier', backbone=dict(type='LeNet5'), neck=dict(type='GlobalAveragePooling'),
        head=dict(type='MultiLabelLinearClsHead', num_classes=6, in_channels=120),
        data_preprocessor=dict(mean=[77.9], std=[95.9]))))
    model = build_inference_model(cfg, device='cpu')
    torch.nn.init.normal_(model.head.fc.weight, std=0.5)
    rep = export_model(model, tmp_path / 'ml.onnx', 'onnx', (1, 1, 32, 32), with_preprocess=True)
    assert rep['output_shape'] == [1, 6] and rep['max_abs_diff'] < 1e-4 and rep['max_abs_output'] > 0.05
    x = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        ref = model((x.float() - 77.9) / 95.9, mode='tensor')
    np.testing.assert_allclose(run_onnx(tmp_path / 'ml.onnx', x[:1].numpy()), ref[:1].numpy(), atol=1e-4)

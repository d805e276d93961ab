"""`fovea quantize`: int8 LeNet keeps its accuracy; the reported float accuracy is the model's."""
from __future__ import annotations

import json

import pytest
import torch

from fovea.cli.main import main


def test_static_quantization_report_and_file(lenet_run, digit_images, tmp_path, capsys):
    rep, out = tmp_path / 'q.json', tmp_path / 'int8.pt'
    with pytest.raises(SystemExit) as e:
        main(['quantize', 'lenet5_digits', '--checkpoint', lenet_run['checkpoint'], '--mode', 'static',
              '--calib-images', '128', '--out', str(out), '--report', str(rep)])
    assert e.value.code == 0
    report = json.loads(rep.read_text())
    assert report['num_images'] == 364 and report['calibration_images'] >= 128
    # the float accuracy is the one the training run measured on the same validation set
    assert report['float_top1'] == pytest.approx(lenet_run['val_top1'], abs=0.01)
    assert report['accuracy_drop'] < 3.0 and report['prediction_agreement'] > 95.0
    assert report['speedup'] > 0 and report['int8_s_per_batch'] > 0
    printed = capsys.readouterr().out
    assert 'drop' in printed and 'speed-up' in printed
    assert 'float (fp32)' in printed and report['float_precision'] == 'fp32'  # the report names its precision
    ts = torch.jit.load(str(out))
    from fovea.apis.inference import build_inference_model
    model = build_inference_model('lenet5_digits', lenet_run['checkpoint'], 'cpu')
    imgs, _ = digit_images
    x = torch.stack([torch.nn.functional.interpolate(i[None].float(), size=32, mode='bilinear', antialias=True)[0]
                     for i in imgs[:8]])
    x = (x - 77.9) / 95.9  # the config's normalisation
    with torch.no_grad():
        q, f = ts(x), model(x, mode='tensor')
    assert q.dtype == torch.float32 and q.shape == (8, 10)
    # int8 logits are close to the float ones (not equal: they are quantized)
    assert 0 < (q - f).abs().max() < 0.25 * f.abs().max()
    assert (q.argmax(1) == f.argmax(1)).float().mean() >= 0.85
    assert any('quantized' in str(type(m)).lower() for m in ts.modules()) or 'quantized' in str(ts.graph)


def test_dynamic_quantization_and_errors(lenet_run):
    from fovea.apis.inference import build_inference_model
    from fovea.tools.quantize import quantize_model
    model = build_inference_model('lenet5_digits', lenet_run['checkpoint'], 'cpu')
    q = quantize_model(model, 'dynamic')
    assert 'quantized' in type(q.model.head.fc).__module__
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(q(x), model(x, mode='tensor'), atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match='calibration images'):
        quantize_model(model, 'static', [])
    with pytest.raises(ValueError, match="'dynamic' or 'static'"):
        quantize_model(model, 'int4')


def test_static_quantization_explains_untraceable_models():
    from fovea.tools.quantize import quantize_model
    from fovea.utils.errors import ConfigError

    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x, mode='tensor'):
            y = self.conv(x)
            return y.flatten(1) if y.sum() > 0 else -y.flatten(1)  # data-dependent: fx cannot trace it

    with pytest.raises(ConfigError, match='--mode dynamic'):
        quantize_model(Branchy(), 'static', [torch.randn(2, 3, 8, 8)])

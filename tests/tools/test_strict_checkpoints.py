"""Evaluating, inferring and exporting need every tensor of the model: a checkpoint that fits only
partly (first conv missing, head of another size) is a clear error naming the keys in every tool,
while `load_from` fine-tuning keeps what fits and reports the rest."""
from __future__ import annotations

import logging

import pytest
import torch
from PIL import Image

from fovea.cli.main import main
from fovea.config import Config
from fovea.engine.runner import Runner


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    from fovea.apis.inference import build_inference_model
    tmp = tmp_path_factory.mktemp('strict')
    sd = build_inference_model('lenet5_digits').state_dict()
    torch.save({'state_dict': sd, 'meta': {}}, tmp / 'full.pth')
    partial = {k: v for k, v in sd.items() if not k.startswith('backbone.features.0.')}
    partial['head.fc.weight'], partial['head.fc.bias'] = torch.zeros(5, 120), torch.zeros(5)
    torch.save({'state_dict': partial, 'meta': {}}, tmp / 'partial.pth')
    Image.new('L', (32, 32), 100).save(tmp / 'digit.png')
    return tmp


def _cli(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    return info.value.code, capsys.readouterr().err


def test_every_evaluating_tool_refuses_a_partial_checkpoint(checkpoints, capsys, tmp_path):
    ckpt, img = checkpoints / 'partial.pth', checkpoints / 'digit.png'
    commands = {
        'test': ('test', 'lenet5_digits', ckpt, '--work-dir', tmp_path / 'w'),
        'infer': ('infer', 'lenet5_digits', img, '--checkpoint', ckpt),
        'export': ('export', 'lenet5_digits', '--checkpoint', ckpt, '--out', tmp_path / 'm.onnx'),
        'cam': ('cam', 'lenet5_digits', img, '--checkpoint', ckpt, '--out', tmp_path / 'cam.png'),
        'quantize': ('quantize', 'lenet5_digits', '--checkpoint', ckpt),
        'confusion-matrix': ('confusion-matrix', 'lenet5_digits', ckpt, '--out', tmp_path / 'cm.png'),
        'tsne': ('tsne', 'lenet5_digits', ckpt, '--out', tmp_path / 't.png'),
        'reparameterize': ('reparameterize', ckpt, tmp_path / 'r.pth', '--config', 'lenet5_digits'),
    }
    for name, argv in commands.items():
        code, err = _cli(capsys, *argv)
        assert code == 1, (name, err)
        assert 'partial.pth' in err and 'does not fit ImageClassifier' in err, (name, err)
        assert '2 missing from the checkpoint (backbone.features.0.weight, backbone.features.0.bias)' in err
        assert '2 with another shape (head.fc.weight (5, 120) in the checkpoint, (10, 120) in the model' in err
        assert '--load-from' in err and 'Traceback' not in err
    assert not (tmp_path / 'm.onnx').exists() and not (tmp_path / 'r.pth').exists()


def test_full_checkpoint_evaluates_and_load_from_stays_partial(checkpoints, capsys, tmp_path, caplog):
    code, err = _cli(capsys, 'infer', 'lenet5_digits', checkpoints / 'digit.png', '--checkpoint',
                     checkpoints / 'full.pth')
    assert code == 0, err
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', [f'work_dir={tmp_path / "w"}',
                                                                f'load_from={checkpoints / "partial.pth"}']))
    with caplog.at_level(logging.INFO, logger='fovea'):
        runner._load_or_resume()  # as in train(): fine-tuning keeps what fits
    assert 'missing in checkpoint (2)' in caplog.text and 'shape mismatch, not loaded (2)' in caplog.text
    assert torch.equal(runner.unwrapped_model.state_dict()['backbone.features.3.weight'],
                       torch.load(checkpoints / 'partial.pth')['state_dict']['backbone.features.3.weight'])

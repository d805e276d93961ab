"""'auto' precision and small models: LeNet-size models stay fp32 even where bf16 is native."""
from __future__ import annotations

import logging

import pytest
import torch

from fovea.config import Config
from fovea.engine.runner import Runner


@pytest.fixture
def bf16_hardware(monkeypatch):
    """Pretend the CPU runs bf16 natively (AVX512-BF16/AMX), where 'auto' picks bf16."""
    monkeypatch.setattr('fovea.engine.optim_wrapper.bf16_supported', lambda device_type: True)
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _runner(tmp_path, backbone: dict, precision: str | None = None) -> Runner:
    env = {} if precision is None else {'precision': precision}
    return Runner.from_cfg(Config(dict(
        model=dict(type='ImageClassifier', backbone=backbone, neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10, in_channels=backbone.pop('_width'))),
        env_cfg=env, work_dir=str(tmp_path))))


def test_auto_keeps_small_models_fp32_and_says_why(tmp_path, bf16_hardware, caplog):
    runner = _runner(tmp_path, dict(type='LeNet5', num_classes=-1, _width=120))
    assert runner.precision == 'fp32'
    with caplog.at_level(logging.INFO, logger='fovea'):
        runner._describe_setup()
    assert 'precision fp32 (auto: small model, 0.052M parameters)' in caplog.text
    assert _runner(tmp_path, dict(type='LeNet5', num_classes=-1, _width=120), 'bf16').precision == 'bf16'


def test_auto_still_picks_bf16_for_larger_models(tmp_path, bf16_hardware):
    runner = _runner(tmp_path, dict(type='ResNet_CIFAR', depth=18, _width=512))
    assert runner.precision == 'bf16' and runner.precision_note == ''

"""The `real` tier: training and validation with loader workers on real images at real counts.

CIFAR-10's 10,000 test JPEGs are validated in full, through 2 loader workers; training is a subset
and a tiny model so that each test stays under two minutes on 2 busy cores.
"""
from __future__ import annotations

import re
import resource
import subprocess
import sys

import pytest
import torch

pytestmark = [pytest.mark.real, pytest.mark.slow]


def _limit_descriptors(limit: int = 1024):
    """The usual `ulimit -n` of a login shell, where the ancdata crash happened."""
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    return apply


def test_mmpretrain_lenet5_mnist_config_trains_and_validates_10000_samples(cifar_as_mnist_root, tmp_path):
    """MMPretrain's lenet5_mnist recipe with data_prefix pointed at MNIST-format files: 1 epoch on 10,000
    images, then validation of 10,000 with 2 workers. It crashed there ('received 0 items of ancdata')."""
    root = str(cifar_as_mnist_root)
    proc = subprocess.run(
        [sys.executable, '-m', 'fovea', 'train', 'lenet5_mnist', '--work-dir', str(tmp_path), '--cfg-options',
         f'train_dataloader.dataset.data_prefix={root}', f'val_dataloader.dataset.data_prefix={root}',
         f'test_dataloader.dataset.data_prefix={root}', 'train_cfg.max_epochs=1', 'randomness.seed=0'],
        capture_output=True, text=True, timeout=600, preexec_fn=_limit_descriptors())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'ancdata' not in out
    top1 = float(re.findall(r'accuracy/top1: ([0-9.]+)', out)[-1])
    assert top1 > 11.0, out[-2000:]  # 10 classes: chance is 10%


def test_cifar10_jpegs_train_and_validate_with_workers(cifar10_root, tmp_path):
    """RGB LeNet-5 on 10,000 CIFAR-10 training JPEGs for 2 epochs, validated on all 10,000 test JPEGs."""
    from fovea.config import Config
    from fovea.engine.runner import Runner
    loader = dict(batch_size=128, num_workers=2, persistent_workers=True)
    cfg = Config(dict(
        model=dict(type='ImageClassifier', backbone=dict(type='LeNet5', num_classes=10, in_channels=3),
                   head=dict(type='ClsHead', loss=dict(type='CrossEntropyLoss'))),
        data_preprocessor=dict(mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255], num_classes=10),
        train_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=True), dataset=dict(
            type='CustomDataset', data_prefix=str(cifar10_root / 'train'), indices=list(range(0, 50_000, 5)),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5), dict(type='PackInputs')])),
        val_dataloader=dict(loader, dataset=dict(
            type='CustomDataset', data_prefix=str(cifar10_root / 'test'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])),
        val_evaluator=dict(type='Accuracy', topk=(1,)), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=2),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=40), checkpoint=dict(type='CheckpointHook',
                                                                                         interval=2)),
        randomness=dict(seed=0), work_dir=str(tmp_path)))
    threads = torch.get_num_threads()
    try:
        runner = Runner.from_cfg(cfg)
        runner.train()
    finally:
        torch.set_num_threads(threads)
    assert len(runner.val_loop.dataloader.dataset) == 10_000
    assert runner.last_metrics['val']['accuracy/top1'] > 25.0  # chance: 10%

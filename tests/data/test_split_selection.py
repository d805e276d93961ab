"""Which files a dataset with fixed train/test files loads: MNIST/FashionMNIST by ``test_mode``, CIFAR by
``split``, as MMPretrain 1.x's classes do; one log line names the split and its size, and a warning
says where ``split`` and ``test_mode`` disagree. Every shipped (and, under the ``reference`` marker,
every MMPretrain) dataset config validates and tests on the test files."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from data_testutil import idx_bytes

from fovea.config import CONFIG_ROOT, Config
from fovea.registry import DATASETS

N_TRAIN, N_TEST = 30, 10
MMPRETRAIN_CONFIGS = Path('/work/refvenv/lib/python3.11/site-packages/mmpretrain/.mim/configs')


def write_mnist(root: Path) -> Path:
    """Raw IDX files, 30 training and 10 test images; no training label is 3, half the test labels are."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    train_labels = np.array([0, 1, 2, 4, 5, 6, 7, 8, 9, 0] * 3, dtype=np.uint8)
    test_labels = np.array([3, 3, 3, 3, 3, 0, 1, 2, 4, 5], dtype=np.uint8)
    for prefix, labels in (('train', train_labels), ('t10k', test_labels)):
        imgs = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        (root / f'{prefix}-images-idx3-ubyte').write_bytes(idx_bytes(imgs))
        (root / f'{prefix}-labels-idx1-ubyte').write_bytes(idx_bytes(labels))
    return root


@pytest.fixture(scope='module')
def mnist_dir(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp('mnist_split'))


@pytest.mark.parametrize('dataset_type', ['MNIST', 'FashionMNIST'])
@pytest.mark.parametrize('args,n,warns', [
    (dict(test_mode=True), N_TEST, False),                  # MMPretrain's lenet5_mnist val/test set
    (dict(test_mode=False), N_TRAIN, False),
    (dict(), N_TRAIN, False),
    (dict(split='test', test_mode=True), N_TEST, False),
    (dict(split='train', test_mode=True), N_TEST, True),    # test_mode wins, as in MMPretrain
    (dict(split='test'), N_TRAIN, True),
], ids=str)
def test_mnist_selects_files_by_test_mode(mnist_dir, caplog, dataset_type, args, n, warns):
    with caplog.at_level(logging.INFO, logger='fovea'):
        ds = DATASETS.build(dict(type=dataset_type, data_prefix=str(mnist_dir), download=False, **args))
    assert len(ds) == n
    split = 'test' if n == N_TEST else 'train'
    lines = [r.getMessage() for r in caplog.records if 'loaded the' in r.getMessage()]
    assert lines == [f'{dataset_type}: loaded the {split} split ({n:,} samples, selected by '
                     f'test_mode={bool(args.get("test_mode"))}) from {mnist_dir}/'
                     f'{"t10k" if split == "test" else "train"}-images-idx3-ubyte']
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) == warns
    if warns:
        assert 'disagree' in warnings[0] and f'test_mode={split != "test"}' in warnings[0]


@pytest.mark.parametrize('args,n,warns', [
    (dict(split='test'), 3, False), (dict(split='train'), 20, False), (dict(split='test', test_mode=True), 3, False),
    (dict(test_mode=True), 20, True),                       # CIFAR selects by split, as in MMPretrain
])
def test_cifar_selects_files_by_split(cifar_root, caplog, args, n, warns):
    with caplog.at_level(logging.INFO, logger='fovea'):
        ds = DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root), download=False, **args))
    assert len(ds) == n
    assert any(f"loaded the {args.get('split', 'train')} split ({n} samples, selected by split=" in r.getMessage()
               for r in caplog.records)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) == warns and (not warns or "Set split='test'" in warnings[0])


def _constant_checkpoint(cfg: Config, path: Path, label: int) -> None:
    """Weights of the config's model that predict ``label`` for every image."""
    from fovea.registry import MODELS
    model = MODELS.build(cfg.model_cfg())
    last = model.backbone.classifier[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[label] = 10.
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


@pytest.mark.parametrize('dataset_type', ['MNIST', 'FashionMNIST'])
def test_fovea_test_on_mmpretrain_mnist_config_uses_the_test_files(mnist_dir, tmp_path, capsys, dataset_type):
    """MMPretrain's lenet5_mnist (test_mode=True, no split): `fovea test` evaluates the 10 test images
    (50% of them are class 3), not the 30 training images (none is class 3); before, it reported 0.0 on 30."""
    from fovea.cli.main import main
    cfg = Config.fromfile('lenet5_mnist')
    ckpt = tmp_path / 'always3.pth'
    _constant_checkpoint(cfg, ckpt, label=3)
    out = tmp_path / 'preds.json'
    opts = [f'{k}.dataset.{a}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
            for a in (f'data_prefix={mnist_dir}', 'download=False', f'type={dataset_type}')]
    with pytest.raises(SystemExit) as info:
        main(['test', 'lenet5_mnist', str(ckpt), '--work-dir', str(tmp_path / 'w'), '--out', str(out),
              '--cfg-options', *opts, 'test_dataloader.num_workers=0', 'test_dataloader.batch_size=4'])
    assert info.value.code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert len(result['predictions']) == N_TEST
    assert result['metrics']['accuracy/top1'] == pytest.approx(50.0)


# ---- every dataset config: validation and test read the test files, training the training files
def _dataset_configs(root: Path, every_config: bool = False) -> list[Path]:
    """The dataset bases and the configs that set test_mode (``every_config``: all but the other bases)."""
    return [p for p in sorted(root.rglob('*.py')) if 'datasets' in p.parts or (
        every_config and '_base_' not in p.parts) or 'test_mode' in p.read_text(encoding='utf-8')]


_FILE_SELECTING = ("'MNIST'", "'FashionMNIST'", "'CIFAR10'", "'CIFAR100'")


def _expected_split(key: str) -> str:
    return 'train' if key == 'train_dataloader' else 'test'


def _fake_root(ds_type: str, mnist_dir: Path, cifar_root: Path) -> dict:
    if ds_type in ('MNIST', 'FashionMNIST'):
        return dict(data_prefix=str(mnist_dir), data_root='', download=False)
    return dict(data_root=str(cifar_root), data_prefix='', download=False)


def _split_of(cfg: Config, key: str, mnist_dir: Path, cifar_root: Path, build) -> str | None:
    """'train' or 'test' for a file-selecting dataset (by the number of samples ``build`` loads), else None."""
    ds = dict((cfg.get(key) or {}).get('dataset') or {})
    t = str(ds.get('type', '')).split('.')[-1]
    if f"'{t}'" not in _FILE_SELECTING:
        return None
    ds.update(_fake_root(t, mnist_dir, cifar_root), pipeline=[])
    sizes = {'MNIST': (N_TRAIN, N_TEST), 'FashionMNIST': (N_TRAIN, N_TEST), 'CIFAR10': (20, 3), 'CIFAR100': (5, 2)}
    n = len(build(ds))
    return {sizes[t][0]: 'train', sizes[t][1]: 'test'}[n]


def test_shipped_dataset_configs_evaluate_on_the_test_files(mnist_dir, cifar_root):
    checked = 0
    for path in _dataset_configs(CONFIG_ROOT, every_config=True):
        cfg = Config.fromfile(path)
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            split = _split_of(cfg, key, mnist_dir, cifar_root, DATASETS.build)
            if split is not None:
                assert split == _expected_split(key), (path, key)
                checked += 1
    assert checked >= 3 * 9  # lenet5_mnist, the CIFAR bases and the CIFAR recipes (which inherit them)


@pytest.mark.reference
@pytest.mark.skipif(not MMPRETRAIN_CONFIGS.is_dir(), reason='MMPretrain 1.2.0 configs not installed')
def test_mmpretrain_dataset_configs_load_the_same_split_as_mmpretrain(mnist_dir, cifar_root, monkeypatch):
    """MMPretrain's dataset bases and the configs that set test_mode: fovea loads the same files as MMPretrain."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.datasets import CIFAR10 as MMCIFAR10
    from mmpretrain.registry import DATASETS as MM_DATASETS
    monkeypatch.setattr(MMCIFAR10, '_check_integrity', lambda self: True)  # the fake batches have other MD5s

    def mm_build(ds):
        return MM_DATASETS.build({k: v for k, v in ds.items() if k != 'download'} | {'download': False})

    checked = 0
    for path in _dataset_configs(MMPRETRAIN_CONFIGS):
        cfg = Config.fromfile(path)
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            ours = _split_of(cfg, key, mnist_dir, cifar_root, DATASETS.build)
            if ours is None:
                continue
            assert ours == _split_of(cfg, key, mnist_dir, cifar_root, mm_build) == _expected_split(key), (path, key)
            checked += 1
    assert checked >= 3 * 3  # lenet5_mnist, cifar10_bs16, cifar100_bs16 at least

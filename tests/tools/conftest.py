"""Shared fixtures for the tools tests: a LeNet-5 digits checkpoint trained once per session, real photos."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope='session')
def lenet_run(tmp_path_factory):
    """Train the default run for 2 epochs (a few seconds): returns dict(config, checkpoint, run_dir)."""
    from fovea.config import Config
    from fovea.engine.runner import Runner
    work = tmp_path_factory.mktemp('lenet')
    cfg = Config.fromfile('lenet5_digits', ['train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
                                            'default_hooks.logger.interval=15',
                                            'default_hooks.logger.tensorboard=False'])
    cfg['work_dir'] = str(work)
    # fp32: bf16 autocast is slow on CPUs without native bf16, and fp32 makes the numbers reproducible
    cfg['env_cfg'] = dict(cfg.get('env_cfg') or {}, device='cpu', precision='fp32')
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = sorted(glob.glob(str(Path(runner.run_dir) / 'epoch_*.pth')))[-1]
    return dict(config='lenet5_digits', checkpoint=ckpt, run_dir=Path(runner.run_dir),
                val_top1=runner.last_metrics['val']['accuracy/top1'])


@pytest.fixture(scope='session')
def photo_dir(tmp_path_factory):
    """Three real photographs from scikit-image's sample data, as PNG/JPEG files."""
    data = pytest.importorskip('skimage.data')
    from PIL import Image
    d = tmp_path_factory.mktemp('photos')
    Image.fromarray(data.astronaut()).resize((128, 128)).save(d / 'astronaut.png')
    Image.fromarray(data.coffee()).resize((160, 120)).save(d / 'coffee.jpg')
    Image.fromarray(data.camera()).resize((96, 96)).save(d / 'camera.png')
    return d


@pytest.fixture(scope='session')
def digit_images():
    """The first 24 validation digits (uint8 1x8x8 tensors) and their labels."""
    from fovea.data.datasets import Digits
    ds = Digits(split='val')
    infos = [ds.get_data_info(i) for i in range(24)]
    return [i['img'] for i in infos], np.array([i['gt_label'] for i in infos])


def is_png(path) -> bool:
    with open(path, 'rb') as f:
        return f.read(8) == b'\x89PNG\r\n\x1a\n' and os.path.getsize(path) > 100

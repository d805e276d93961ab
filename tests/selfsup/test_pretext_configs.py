"""The shipped pretext-task CIFAR-10 configs: each builds, its training pipeline reads class folders
into the views its model takes, and one training loss on them is finite."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.data.collate import default_collate
from fovea.registry import DATASETS, MODELS, build

CONFIGS = {'rotation_pred_resnet18_cifar10': (4, 32), 'relative_loc_resnet18_cifar10': (9, 16),
           'jigsaw_resnet18_cifar10': (9, 16)}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_trains_on_class_folders(name, tmp_path):
    d = tmp_path / 'train' / 'a'
    d.mkdir(parents=True)
    for i in range(2):
        Image.new('RGB', (32, 32), (40 * i, 200, 90)).save(d / f'{i}.png')
    cfg = Config.fromfile(name, [f'train_dataloader.dataset.data_root={tmp_path}'])
    dataset = build(cfg.train_dataloader['dataset'], DATASETS, key='dataset')
    torch.manual_seed(0)
    model = build(cfg.model_cfg(), MODELS, key='model')
    model.init_weights()
    data = model.data_preprocessor(default_collate([dataset[0], dataset[1]]), True)
    views, size = CONFIGS[name]
    assert len(data['inputs']) == views and data['inputs'][0].shape == (2, 3, size, size)
    assert torch.isfinite(model.train().loss(data['inputs'], data['data_samples'])['loss'])
    assert 'knn_cfg' in cfg

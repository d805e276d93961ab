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
           'jigsaw_resnet18_cifar10': (9, 16), 'colorization_resnet18_cifar10': (1, 32)}


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
    if views == 1:                                              # Colorization: one L-channel batch
        assert data['inputs'].shape == (2, 1, size, size)
    else:
        assert len(data['inputs']) == views and data['inputs'][0].shape == (2, 3, size, size)
    assert torch.isfinite(model.train().loss(data['inputs'], data['data_samples'])['loss'])
    assert 'knn_cfg' in cfg
    if name.startswith('colorization'):                         # kNN feeds the L channel too
        from fovea.evaluation.knn import knn_loaders
        opts = [f'{k}.dataset.data_root={tmp_path}' for k in ('knn_cfg.train_dataloader', 'knn_cfg.val_dataloader')]
        opts += ['knn_cfg.train_dataloader.dataset.data_prefix=train', 'knn_cfg.val_dataloader.dataset.data_prefix=train',
                 "knn_cfg.train_dataloader.dataset.metainfo.classes=['a']", "knn_cfg.val_dataloader.dataset.metainfo.classes=['a']",
                 'knn_cfg.train_dataloader.num_workers=0', 'knn_cfg.val_dataloader.num_workers=0']
        memory, _ = knn_loaders(Config.fromfile(name, opts))
        feats = model.eval().predict(model.data_preprocessor(next(iter(memory)))['inputs'])
        assert feats[0].feats.shape == (512,)

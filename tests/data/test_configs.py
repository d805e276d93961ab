"""MMPretrain's dataset base configs build unchanged and yield model-ready samples."""
from __future__ import annotations

import glob
import os

import pytest
import torch
from data_testutil import jpeg_bytes, write

from fovea.config import Config
from fovea.data.loader import build_dataloader

CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'fovea', 'configs', '_base_', 'datasets')
# the video and detection bases (video_*.py, coco_*.py) build in tests/data/test_video_data.py and
# tests/models/test_detection.py
CONFIGS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(CONFIG_DIR, '*.py'))
                 if not os.path.basename(p).startswith(('video_', 'coco_')))
MMPRETRAIN_NAMES = {'imagenet_bs32_mocov2.py', 'imagenet_bs32_simclr.py', 'imagenet_bs32_byol.py',
                    'imagenet_bs512_mocov3.py', 'imagenet_bs512_mae.py', 'imagenet_bs32.py', 'imagenet_bs64.py', 'imagenet_bs32_pil_resize.py', 'imagenet_bs64_swin_224.py',
                    'imagenet_bs64_swin_384.py', 'imagenet_bs64_autoaug.py', 'imagenet_bs256_rsb_a12.py',
                    'imagenet_bs256_rsb_a3.py', 'cifar10_bs16.py', 'cifar100_bs16.py'}


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('imagenet')
    (root / 'meta').mkdir()
    for split, n in (('train', 3), ('val', 2)):
        for i in range(n):
            write(root / split / f'{split}_{i}.JPEG', jpeg_bytes(h=60 + 10 * i, w=80, seed=i))
        (root / 'meta' / f'{split}.txt').write_text(''.join(f'{split}_{i}.JPEG {i * 300}\n' for i in range(n)))
    return root


@pytest.fixture(scope='module')
def cifar_jpg_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cifar_jpg')
    for split in ('train', 'test'):
        for c in range(10):
            write(root / split / f'class{c}' / '0001.jpg', jpeg_bytes(h=32, w=32, seed=c))
    return root


@pytest.fixture(scope='module')
def cub_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('CUB_200_2011')
    for i in (1, 2, 3, 4):
        write(root / 'images' / '001.Black_footed_Albatross' / f'{i}.jpg', jpeg_bytes(h=60, w=80, seed=i))
    (root / 'images.txt').write_text(''.join(f'{i} 001.Black_footed_Albatross/{i}.jpg\n' for i in (1, 2, 3, 4)))
    (root / 'image_class_labels.txt').write_text(''.join(f'{i} 1\n' for i in (1, 2, 3, 4)))
    (root / 'train_test_split.txt').write_text('1 1\n2 1\n3 0\n4 0\n')
    return root


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('VOC2007')
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'Annotations').mkdir()
    for split in ('trainval', 'test'):
        (root / 'ImageSets' / 'Main' / f'{split}.txt').write_text(f'{split}_0\n{split}_1\n')
        for i in (0, 1):
            write(root / 'JPEGImages' / f'{split}_{i}.jpg', jpeg_bytes(h=60, w=80, seed=i))
            (root / 'Annotations' / f'{split}_{i}.xml').write_text(
                '<annotation><object><name>dog</name><difficult>0</difficult></object>'
                '<object><name>cat</name><difficult>1</difficult></object></annotation>')
    return root


def test_mmpretrain_names_present():
    assert MMPRETRAIN_NAMES <= set(CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_dataset_config_builds(name, imagenet_root, cifar_root, cifar_jpg_root, cub_root, voc_root):
    cfg = Config.fromfile(os.path.join(CONFIG_DIR, name))
    selfsup = cfg['data_preprocessor'].get('type') in ('SelfSupDataPreprocessor', 'TwoNormDataPreprocessor')
    evaluators = cfg.get('val_evaluator') or []
    evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
    assert selfsup or {e['type'] for e in evaluators} <= {'Accuracy', 'VOCMultiLabelMetric', 'VOCAveragePrecision'}
    for key in ('train_dataloader',) if selfsup else ('train_dataloader', 'val_dataloader'):
        loader_cfg = dict(cfg[key])
        ds = dict(loader_cfg['dataset'])
        if ds['type'] == 'ImageNet':
            ds['data_root'] = str(imagenet_root)
        elif ds['type'] in ('CUB', 'VOC'):
            ds['data_root'] = str(cub_root if ds['type'] == 'CUB' else voc_root)
        elif ds['type'].startswith('CIFAR'):
            ds['data_root'] = str(cifar_root)
            ds['download'] = False
        else:
            ds['data_root'] = str(cifar_jpg_root)
        loader_cfg.update(dataset=ds, batch_size=2, num_workers=0)
        loader_cfg.pop('persistent_workers', None)
        batch = next(iter(build_dataloader(loader_cfg, seed=0, key=key)))
        views = batch['inputs'] if isinstance(batch['inputs'], list) else [batch['inputs']]
        pipeline = str(cfg['train_pipeline'])
        assert len(views) == (2 if selfsup and ('View' in pipeline or 'TwoPic' in pipeline) else 1)
        size = {'imagenet_bs64_swin_384.py': 384, 'cub_bs8_448.py': 448, 'cub_bs8_384.py': 384,
                'imagenet_bs128_riformer_medium_384.py': 384, 'imagenet_bs128_riformer_small_384.py': 384,
                'imagenet_bs64_deit3_384.py': 384, 'imagenet_bs256_simmim_192.py': 192}.get(name, 224 if ds['type'] in ('ImageNet', 'VOC') else 32)
        for x in views:
            assert x.dtype == torch.uint8 and x.ndim == 4 and x.shape[0] == 2 and x.shape[1] == 3
            assert tuple(x.shape[-2:]) == (size, size), (name, key, x.shape)
        assert len(batch['data_samples']) == 2
        if ds.get('with_label', True):
            assert batch['data_samples'][0].gt_label.numel() == 1


def test_channel_order_follows_mmpretrain(cifar_root, cifar_jpg_root):
    """MMPretrain feeds CIFAR arrays as RGB with to_rgb=False and decoded files as BGR; so does fovea."""
    from fovea.registry import DATASETS, MODELS
    for name, root in (('cifar10_bs16.py', cifar_root), ('cifar10_jpg_bs128.py', cifar_jpg_root)):
        cfg = Config.fromfile(os.path.join(CONFIG_DIR, name))
        ds_cfg = dict(cfg['val_dataloader']['dataset'], data_root=str(root))
        if ds_cfg['type'] == 'CIFAR10':
            ds_cfg['download'] = False
        sample = DATASETS.build(ds_cfg)[0]
        pre = MODELS.build(dict(type='ClsDataPreprocessor', **{k: v for k, v in cfg['data_preprocessor'].items()
                                                               if k != 'num_classes'}))
        x = pre({'inputs': sample['inputs'][None], 'data_samples': [sample['data_samples']]})['inputs'][0]
        mean = torch.tensor(cfg['data_preprocessor']['mean']).view(3, 1, 1)
        std = torch.tensor(cfg['data_preprocessor']['std']).view(3, 1, 1)
        expected = (sample['inputs'].float() - mean) / std  # RGB image, RGB statistics: no flip in either case
        torch.testing.assert_close(x, expected)

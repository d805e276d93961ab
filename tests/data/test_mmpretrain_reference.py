"""Side by side with MMPretrain 1.2 (optional: skipped unless mmpretrain is installed).

Random decisions are drawn from NumPy's global generator in MMPretrain's order, so with the same
seed fovea picks the same crops, flips and augmentation policies; pixel results are compared
where both sides do the same arithmetic (MMPretrain images are BGR numpy arrays, fovea's RGB tensors).
Run with a Python that has mmpretrain, e.g. ``/work/refvenv/bin/python -m pytest -m reference tests/data``.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.reference
mmpretrain = pytest.importorskip('mmpretrain')


@pytest.fixture(autouse=True)
def _mmpretrain_checkpoints_load(monkeypatch):
    # set per test, not at import: the variable would leak into every later test of the process
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')

from fovea.registry import BATCH_AUGMENTS, TRANSFORMS  # noqa: E402

RGB = np.random.default_rng(0).integers(0, 256, (57, 83, 3), dtype=np.uint8)


def _mm(cfg):
    from mmpretrain.registry import TRANSFORMS as MM
    import mmpretrain.datasets  # noqa: F401  (registers the transforms)
    return MM.build(cfg)


def _both(cfg, seed):
    np.random.seed(seed)
    ours = TRANSFORMS.build(cfg)({'img': torch.from_numpy(RGB).permute(2, 0, 1).contiguous()})
    np.random.seed(seed)
    theirs = _mm(cfg)({'img': RGB[..., ::-1].copy()})
    return ours, theirs


def _as_bgr(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()[..., ::-1]


def test_random_resized_crop_params_match():
    ours = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=224))
    theirs = _mm(dict(type='RandomResizedCrop', scale=224))
    for seed in range(20):
        np.random.seed(seed)
        a = ours.rand_crop_params(375, 500)
        np.random.seed(seed)
        b = theirs.rand_crop_params(np.zeros((375, 500, 3), np.uint8))
        assert a == tuple(int(v) for v in b)


def test_efficientnet_random_crop_params_match():
    ours = TRANSFORMS.build(dict(type='EfficientNetRandomCrop', scale=224))
    theirs = _mm(dict(type='EfficientNetRandomCrop', scale=224))
    for seed in range(20):
        np.random.seed(seed)
        a = ours.rand_crop_params(375, 500)
        np.random.seed(seed)
        b = theirs.rand_crop_params(np.zeros((375, 500, 3), np.uint8))
        assert a[:2] == tuple(int(v) for v in b[:2]) and abs(a[2] - b[2]) <= 1 and abs(a[3] - b[3]) <= 1


@pytest.mark.parametrize('cfg', [dict(type='CenterCrop', crop_size=40), dict(type='CenterCrop', crop_size=(50, 31)),
                                 dict(type='RandomCrop', crop_size=32, padding=4),
                                 dict(type='RandomCrop', crop_size=(40, 60), padding=(2, 3), pad_val=9),
                                 dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
                                 dict(type='RandomFlip', prob=[0.3, 0.3], direction=['horizontal', 'diagonal'])],
                         ids=lambda c: c['type'])
def test_geometric_pixels_match(cfg):
    for seed in range(6):
        ours, theirs = _both(cfg, seed)
        np.testing.assert_array_equal(_as_bgr(ours['img']), theirs['img'])


@pytest.mark.parametrize('cfg', [
    dict(type='RandomErasing', erase_prob=0.9, mode='const', fill_color=(104, 116, 124)),
    dict(type='RandomErasing', erase_prob=0.9, mode='rand', fill_color=(104, 116, 124), fill_std=(57, 57, 58)),
    dict(type='RandomErasing', erase_prob=0.9, mode='rand'),
    dict(type='RandomCrop', crop_size=40, padding=8, pad_val=(10, 120, 250)),
    dict(type='Cutout', shape=20, pad_val=(10, 120, 250), prob=1.0),
    dict(type='Translate', magnitude=0.3, pad_val=(10, 120, 250), prob=1.0, random_negative_prob=0.0),
], ids=lambda c: c['type'])
def test_color_arguments_mean_bgr_after_loading(cfg, tmp_path):
    """Colour values in configs are BGR for file-loaded images in MMPretrain; fovea fills the same colours."""
    from PIL import Image
    path = tmp_path / 'x.png'
    Image.fromarray(RGB).save(path)
    for seed in range(4):
        np.random.seed(seed)
        ours = TRANSFORMS.build(cfg)(TRANSFORMS.build(dict(type='LoadImageFromFile'))({'img_path': str(path)}))
        np.random.seed(seed)
        theirs = _mm(cfg)(_mm(dict(type='LoadImageFromFile'))({'img_path': str(path)}))
        np.testing.assert_array_equal(_as_bgr(ours['img']), theirs['img'])


def test_resize_edge_sizes_match():
    for edge in ('short', 'long', 'width', 'height'):
        ours, theirs = _both(dict(type='ResizeEdge', scale=64, edge=edge), 0)
        assert tuple(ours['img'].shape[-2:]) == theirs['img'].shape[:2]


def test_randaugment_same_choices_and_pixels_on_exact_ops():
    policies = [dict(type='Invert'), dict(type='Equalize'), dict(type='AutoContrast'),
                dict(type='Posterize', magnitude_range=(4, 0)),
                dict(type='Solarize', magnitude_range=(256, 0)), dict(type='SolarizeAdd', magnitude_range=(0, 110))]
    cfg = dict(type='RandAugment', policies=policies, num_policies=2, magnitude_level=7, magnitude_std=0.5)
    for seed in range(10):
        ours, theirs = _both(cfg, seed)
        np.testing.assert_array_equal(_as_bgr(ours['img']), theirs['img'])


def test_autoaugment_same_sub_policy_choices():
    policies = [[dict(type='Posterize', bits=b, prob=0.6), dict(type='Solarize', thr=t, prob=0.5)]
                for b, t in ((4, 100), (5, 150), (6, 200))] + [[dict(type='Invert', prob=0.7)]]
    for seed in range(10):
        ours, theirs = _both(dict(type='AutoAugment', policies=policies), seed)
        np.testing.assert_array_equal(_as_bgr(ours['img']), theirs['img'])


def test_random_erasing_and_color_jitter_draws():
    for seed in range(5):
        ours, theirs = _both(dict(type='RandomErasing', erase_prob=0.7, mode='const', fill_color=(1, 2, 3)), seed)
        np.testing.assert_array_equal((_as_bgr(ours['img']) != RGB[..., ::-1]).any(-1),
                                      (theirs['img'] != RGB[..., ::-1]).any(-1))
        ours, theirs = _both(dict(type='ColorJitter', brightness=0.5), seed)
        diff = np.abs(_as_bgr(ours['img']).astype(int) - theirs['img'].astype(int))
        assert diff.max() <= 1  # same factor; rounding may differ by one level


@pytest.mark.parametrize('cfg', [dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0),
                                 dict(type='CutMix', alpha=1.0, cutmix_minmax=[0.2, 0.8]),
                                 dict(type='ResizeMix', alpha=1.0)], ids=lambda c: c['type'])
def test_batch_augments_match(cfg):
    from mmpretrain.registry import BATCH_AUGMENTS as MM
    import mmpretrain.models  # noqa: F401
    x = torch.rand(6, 3, 16, 16)
    y = torch.nn.functional.one_hot(torch.arange(6) % 4, 4).float()
    for seed in range(4):
        np.random.seed(seed)
        torch.manual_seed(seed)
        a = BATCH_AUGMENTS.build(cfg)(x.clone(), y)
        np.random.seed(seed)
        torch.manual_seed(seed)
        b = MM.build(cfg)(x.clone(), y)
        torch.testing.assert_close(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])


def test_load_image_matches_mmcv_decoding(tmp_path):
    from PIL import Image
    path = tmp_path / 'x.jpg'
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, format='JPEG', quality=85)
    path.write_bytes(buf.getvalue())
    ours = TRANSFORMS.build(dict(type='LoadImageFromFile'))({'img_path': str(path)})['img']
    theirs = _mm(dict(type='LoadImageFromFile'))({'img_path': str(path)})['img']
    diff = np.abs(_as_bgr(ours).astype(int) - theirs.astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 8  # both libjpeg-turbo; upsampling details may differ


def test_dataset_indexes_match(folder_data, cifar_root, monkeypatch):
    from mmpretrain.datasets import CIFAR10, CustomDataset
    monkeypatch.setattr(CIFAR10, '_check_integrity', lambda self: True)  # the test batches are not the official files
    from fovea.registry import DATASETS
    ours = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), extensions=['.jpg', '.png',
                                                                                                          '.jpeg']))
    theirs = CustomDataset(data_prefix=str(folder_data / 'train'), extensions=['.jpg', '.png', '.jpeg'])
    theirs_visible = [i for i in range(len(theirs)) if '/.' not in theirs.get_data_info(i)['img_path']]
    assert ours.CLASSES == theirs.CLASSES
    assert [(ours.get_data_info(i)['img_path'], ours.get_data_info(i)['gt_label']) for i in range(len(ours))] == \
        [(theirs.get_data_info(i)['img_path'], theirs.get_data_info(i)['gt_label']) for i in theirs_visible]
    c_ours = DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root), split='train', download=False))
    c_theirs = CIFAR10(data_root=str(cifar_root), split='train', download=False)
    assert len(c_ours) == len(c_theirs)
    for i in range(len(c_ours)):
        a, b = c_ours.get_data_info(i), c_theirs.get_data_info(i)
        assert a['gt_label'] == b['gt_label']
        np.testing.assert_array_equal(a['img'].permute(1, 2, 0).numpy(), b['img'])  # both RGB


@pytest.mark.parametrize('to_rgb', [True, False])
def test_same_normalised_batch_as_mmpretrain(cifar_root, tmp_path, to_rgb):
    """The model input (pipeline + data preprocessor) equals MMPretrain's, for file-decoded images and
    for CIFAR's in-memory RGB arrays, with either to_rgb."""
    from PIL import Image
    from mmpretrain.datasets import CIFAR10
    from mmpretrain.models import ClsDataPreprocessor as MMPre
    from mmpretrain.datasets.transforms import PackInputs as MMPack
    from fovea.registry import DATASETS, MODELS
    pre_cfg = dict(mean=[125.3, 123.0, 113.9], std=[51.6, 50.8, 51.3], to_rgb=to_rgb)
    ours_pre = MODELS.build(dict(type='ClsDataPreprocessor', **pre_cfg))
    theirs_pre = MMPre(**pre_cfg)
    # CIFAR-10 in memory
    import unittest.mock as mock
    with mock.patch.object(CIFAR10, '_check_integrity', lambda self: True):
        theirs_ds = CIFAR10(data_root=str(cifar_root), split='test', download=False, pipeline=[dict(type='PackInputs')])
    ours_ds = DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root), split='test', download=False,
                                  pipeline=[dict(type='PackInputs')]))
    ours = ours_pre({'inputs': torch.stack([ours_ds[i]['inputs'] for i in range(3)]),
                     'data_samples': [ours_ds[i]['data_samples'] for i in range(3)]})['inputs']
    theirs = theirs_pre({'inputs': [theirs_ds[i]['inputs'] for i in range(3)],
                         'data_samples': [theirs_ds[i]['data_samples'] for i in range(3)]})['inputs']
    torch.testing.assert_close(ours, theirs)
    # a decoded (lossless) file through a crop pipeline
    path = tmp_path / 'x.png'
    Image.fromarray(RGB).save(path)
    pipe = [dict(type='LoadImageFromFile'), dict(type='CenterCrop', crop_size=32), dict(type='PackInputs')]
    from fovea.data.transforms.base import Compose
    o = Compose(pipe)({'img_path': str(path)})
    t = {'img_path': str(path)}
    for cfg in pipe[:-1]:
        t = _mm(cfg)(t)
    t = MMPack()(t)
    ours = ours_pre({'inputs': o['inputs'][None], 'data_samples': [o['data_samples']]})['inputs']
    theirs = theirs_pre({'inputs': [t['inputs']], 'data_samples': [t['data_samples']]})['inputs']
    torch.testing.assert_close(ours, theirs)

"""MMPretrain's dataset base configs build unchanged and yield model-ready samples."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
import torch
from data_testutil import jpeg_bytes, write

from fovea.config import Config
from fovea.data.loader import build_dataloader

CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'fovea', 'configs', '_base_', 'datasets')
# image-text bases (BLIP's captioning, VQA, retrieval, grounding, NLVR2): name -> (training image size,
# evaluation image size, keys a training sample carries, keys an evaluation sample carries)
MULTIMODAL = {
    'coco_caption.py': (384, 384, ['gt_caption'], []),
    'flickr30k_caption.py': (384, 384, ['gt_caption'], []),
    'nocaps.py': (None, 384, [], []),
    'coco_retrieval.py': (384, 384, ['text', 'is_matched'], ['text', 'gt_text_id', 'gt_image_id']),
    'flickr30k_retrieval.py': (384, 384, ['text', 'is_matched'], ['text', 'gt_text_id', 'gt_image_id']),
    'coco_vqa.py': (384, 480, ['question', 'gt_answer', 'gt_answer_weight'], ['question']),
    'coco_okvqa.py': (384, 480, ['question', 'gt_answer', 'gt_answer_weight'], ['question', 'gt_answer']),
    'coco_vg_vqa.py': (480, 480, ['question', 'gt_answer', 'gt_answer_weight'], ['question']),
    'gqa.py': (480, 480, ['question', 'gt_answer'], ['question', 'gt_answer']),
    'ocrvqa.py': (384, 480, ['question', 'gt_answer', 'gt_answer_weight'], ['question', 'gt_answer']),
    'refcoco.py': (384, 384, ['text', 'gt_bboxes', 'scale_factor'], ['text', 'gt_bboxes', 'scale_factor']),
    'nlvr2.py': (384, 384, ['text'], ['text']),
}
# the video and detection bases (video_*.py, coco_detection.py) build in tests/data/test_video_data.py and
# tests/models/test_detection.py
CONFIGS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(CONFIG_DIR, '*.py'))
                 if not os.path.basename(p).startswith(('video_', 'coco_detection')) and
                 not os.path.basename(p).endswith('_policies.py') and  # augmentation policy lists, no loaders
                 os.path.basename(p) not in MULTIMODAL)
MMPRETRAIN_NAMES = {'imagenet_bs32_mocov2.py', 'imagenet_bs32_simclr.py', 'imagenet_bs32_byol.py',
                    'imagenet_bs512_mocov3.py', 'imagenet_bs512_mae.py', 'imagenet_bs32.py', 'imagenet_bs64.py', 'imagenet_bs32_pil_resize.py', 'imagenet_bs64_swin_224.py',
                    'imagenet_bs64_swin_384.py', 'imagenet_bs64_autoaug.py', 'imagenet_bs256_rsb_a12.py',
                    'imagenet_bs256_rsb_a3.py', 'cifar10_bs16.py', 'cifar100_bs16.py', 'imagenet_bs64_swin_256.py',
                    'imagenet21k_bs128.py'}


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
    # pre-training bases (imagenet21k_bs128) have no validation loader
    for key in ('train_dataloader',) if selfsup or 'val_dataloader' not in cfg else ('train_dataloader', 'val_dataloader'):
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
                'imagenet_bs64_deit3_384.py': 384, 'imagenet_bs256_simmim_192.py': 192, 'imagenet_bs64_swin_256.py': 256,
                'imagenet21k_bs128.py': 224, 'imagenet_bs16_pil_bicubic_384.py': 384,
                'imagenet_bs8_pil_bicubic_320.py': 320}.get(name, 224 if ds['type'] in ('ImageNet', 'VOC') else 32)
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


# ---- image-text bases, on the official annotation formats (tests/multimodal_testutil.py)
@pytest.fixture(scope='module')
def multimodal_root(tmp_path_factory):
    pytest.importorskip('skimage', reason="the photos are scikit-image's samples: pip install scikit-image")
    from multimodal_testutil import write_datasets
    return write_datasets(tmp_path_factory.mktemp('multimodal_bases'))


def _rooted(ds: dict, root) -> dict:
    """The dataset config with its data_root ('data/coco', 'visual_genome', ...) moved under ``root``."""
    ds = dict(ds)
    if ds['type'] == 'ConcatDataset':
        ds['datasets'] = [_rooted(d, root) for d in ds['datasets']]
    else:
        ds['data_root'] = str(root / os.path.basename(ds['data_root'].rstrip('/')))
    return ds


@pytest.mark.parametrize('name', sorted(MULTIMODAL))
def test_multimodal_dataset_config_builds(name, multimodal_root):
    from fovea.registry import METRICS
    assert os.path.isfile(os.path.join(CONFIG_DIR, name)), f'MMPretrain\'s {name} is not shipped'
    cfg = Config.fromfile(os.path.join(CONFIG_DIR, name))
    train_size, eval_size, train_keys, eval_keys = MULTIMODAL[name]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if key not in cfg or (key == 'train_dataloader' and train_size is None):
            continue
        loader_cfg = dict(cfg[key], dataset=_rooted(cfg[key]['dataset'], multimodal_root), batch_size=1,
                          num_workers=0, drop_last=False)
        loader_cfg.pop('persistent_workers', None)
        batch = next(iter(build_dataloader(loader_cfg, seed=0, key=key)))
        size = train_size if key == 'train_dataloader' else eval_size
        views = batch['inputs'] if name == 'nlvr2.py' else [batch['inputs']]
        assert len(views) == (2 if name == 'nlvr2.py' else 1)  # NLVR2: both images of the pair
        for x in views:
            assert x.dtype == torch.uint8 and tuple(x.shape) == (1, 3, size, size), (name, key, x.shape)
        sample = batch['data_samples'][0]
        missing = [k for k in (train_keys if key == 'train_dataloader' else eval_keys) if k not in sample]
        assert not missing, (name, key, missing)
    for key in ('val_evaluator', 'test_evaluator'):
        if key in cfg:
            evaluators = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
            assert all(METRICS.build(dict(e)) is not None for e in evaluators)


def test_refcoco_boxes_follow_the_pipelines(multimodal_root):
    """Training: the box moves with crop, resize and pad and stays on the canvas; testing: the resized box
    divided by scale_factor is the annotated box again."""
    import numpy as np
    from fovea.registry import DATASETS
    cfg = Config.fromfile(os.path.join(CONFIG_DIR, 'refcoco.py'))
    test = DATASETS.build(_rooted(cfg['val_dataloader']['dataset'], multimodal_root))
    raw = test.data_list[0]['gt_bboxes'][0]
    out = test[0]['data_samples']
    sx, sy = out.scale_factor
    np.testing.assert_allclose(np.asarray(out.gt_bboxes)[0] / [sx, sy, sx, sy], raw, rtol=1e-5)
    train = DATASETS.build(_rooted(cfg['train_dataloader']['dataset'], multimodal_root))
    np.random.seed(0)
    for _ in range(6):
        out = train[0]
        box = np.asarray(out['data_samples'].gt_bboxes).reshape(-1, 4)
        assert out['inputs'].shape == (3, 384, 384) and len(box) == 1
        assert (box[:, :2] >= 0).all() and (box[:, 2:] <= 384).all() and (box[:, 2:] > box[:, :2]).all()
        x1, y1, x2, y2 = box[0].round().astype(int)
        assert out['inputs'][:, y1:y2, x1:x2].float().mean() > 5  # the box is on the photo, not the black pad


MMPRETRAIN_DATASET_BASES = Path('/work/refvenv/lib/python3.11/site-packages/mmpretrain/.mim/configs/_base_/datasets')


@pytest.mark.reference
@pytest.mark.skipif(not MMPRETRAIN_DATASET_BASES.is_dir(), reason='MMPretrain 1.2.0 configs not installed')
@pytest.mark.parametrize('name', sorted(MULTIMODAL))
def test_multimodal_base_resolves_to_mmpretrains(name):
    """The image-text bases, written from MMPretrain's, resolve to the same loaders, pipelines and evaluators
    (the BLIP model configs inherit them)."""
    ours = Config.fromfile(os.path.join(CONFIG_DIR, name)).to_dict()
    theirs = Config.fromfile(str(MMPRETRAIN_DATASET_BASES / name)).to_dict()
    keys = ('data_preprocessor', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
            'test_evaluator')
    assert [k for k in keys if ours.get(k) != theirs.get(k)] == []

"""Every dataset on small data in its official layout/format."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from fovea.registry import DATASETS
from fovea.utils.errors import DataError

from data_testutil import jpeg_bytes, write

LOAD = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def test_custom_class_folders(folder_data):
    ds = DATASETS.build(dict(type='CustomDataset', data_root=str(folder_data), data_prefix='train', pipeline=LOAD))
    assert ds.CLASSES == ('cat', 'dog')
    paths = [os.path.relpath(ds.get_data_info(i)['img_path'], folder_data / 'train') for i in range(len(ds))]
    assert paths == ['cat/a.jpg', 'cat/sub/b.JPEG', 'dog/c.png', 'dog/d.jpeg']  # nested, case, hidden/.txt skipped
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 1]
    out = ds[2]
    assert out['inputs'].dtype == torch.uint8 and out['inputs'].shape == (3, 30, 20)
    assert out['data_samples'].gt_label.tolist() == [1]
    # extensions filter and metainfo classes
    only_png = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), extensions=['.png'],
                                   metainfo=dict(classes=['Cat', 'Dog'])))
    assert len(only_png) == 1 and only_png.CLASSES == ('Cat', 'Dog')
    with pytest.raises(DataError, match='2 class folders but 3 classes'):
        DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), classes=['a', 'b', 'c']))


def test_custom_ann_file_and_unlabelled(folder_data, tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('cat/a.jpg 1\n\ndog/d.jpeg 0\n')
    classes = tmp_path / 'classes.txt'
    classes.write_text('x\ny\n')
    ds = DATASETS.build(dict(type='CustomDataset', data_root=str(folder_data), data_prefix='train',
                             ann_file=str(ann), classes=str(classes), pipeline=LOAD))
    assert len(ds) == 2 and ds.CLASSES == ('x', 'y') and ds.get_gt_labels().tolist() == [1, 0]
    assert ds[1]['inputs'].shape[0] == 3
    unl = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), with_label=False,
                              pipeline=LOAD))
    assert len(unl) == 4 and 'gt_label' not in unl.get_data_info(0)
    assert 'gt_label' not in unl[0]['data_samples']
    lst = tmp_path / 'list.txt'
    lst.write_text('cat/a.jpg\ndog/c.png\n')
    unl2 = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), ann_file=str(lst),
                               with_label=False))
    assert unl2.get_data_info(1)['img_path'].endswith('dog/c.png')


def test_path_label_list_is_compact(folder_data):
    ds = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train'), indices=3))
    assert len(ds) == 3
    full = DATASETS.build(dict(type='CustomDataset', data_prefix=str(folder_data / 'train')))
    dl = full.data_list
    assert isinstance(dl._buf, np.ndarray) and dl[-1]['img_path'].endswith('d.jpeg') and dl.labels.dtype == np.int64


def test_imagenet_layouts(tmp_path):
    root = tmp_path / 'imagenet'
    for i, wnid in enumerate(['n01', 'n02']):
        write(root / 'train' / wnid / f'{wnid}_1.JPEG', jpeg_bytes(seed=i))
    write(root / 'val' / 'ILSVRC2012_val_00000001.JPEG', jpeg_bytes(seed=7))
    write(root / 'val' / 'ILSVRC2012_val_00000002.JPEG', jpeg_bytes(seed=8))
    (root / 'meta').mkdir()
    (root / 'meta' / 'val.txt').write_text('ILSVRC2012_val_00000001.JPEG 65\nILSVRC2012_val_00000002.JPEG 970\n')
    write(root / 'test' / 'ILSVRC2012_test_00000001.JPEG', jpeg_bytes(seed=9))
    val = DATASETS.build(dict(type='ImageNet', data_root=str(root), split='val', pipeline=LOAD))
    assert len(val.CLASSES) == 1000 and val.CLASSES[65].startswith('sea snake')
    assert val.get_gt_labels().tolist() == [65, 970] and val[0]['inputs'].shape == (3, 40, 48)
    train = DATASETS.build(dict(type='ImageNet', data_root=str(root), split='train', classes=['tench', 'goldfish']))
    assert train.get_gt_labels().tolist() == [0, 1]
    with pytest.raises(DataError, match='2 class folders but 1000 classes'):
        DATASETS.build(dict(type='ImageNet', data_root=str(root), split='train'))
    test = DATASETS.build(dict(type='ImageNet', data_root=str(root), split='test'))
    assert len(test) == 1 and 'gt_label' not in test.get_data_info(0)
    (root / 'meta' / 'train.txt').write_text('n01/n01_1.JPEG 5\n')  # ImageNet-21k style via annotation files
    in21k = DATASETS.build(dict(type='ImageNet21k', data_root=str(root), split='train'))
    assert len(in21k) == 1 and in21k.get_gt_labels().tolist() == [5]


def test_cifar10_and_100(cifar_root):
    tr = DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root), split='train', download=False,
                             pipeline=[dict(type='PackInputs')]))
    assert len(tr) == 20 and tr.CLASSES[0] == 'airplane' and not tr.test_mode
    out = tr[0]
    assert out['inputs'].shape == (3, 32, 32) and out['inputs'].dtype == torch.uint8
    import pickle
    with open(cifar_root / 'cifar-10-batches-py' / 'data_batch_1', 'rb') as f:
        raw = pickle.load(f)
    assert torch.equal(out['inputs'], torch.from_numpy(raw['data'][0].reshape(3, 32, 32)))  # R plane first
    assert out['data_samples'].gt_label.item() == raw['labels'][0]
    te = DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root), split='test', download=False))
    assert len(te) == 3 and te.test_mode
    c100 = DATASETS.build(dict(type='CIFAR100', data_root=str(cifar_root), split='train', download=False))
    assert len(c100) == 5 and len(c100.CLASSES) == 100 and c100.get_gt_labels().max() < 100
    with pytest.raises(DataError, match='download=True'):
        DATASETS.build(dict(type='CIFAR10', data_root=str(cifar_root / 'nope'), download=False))


def test_mnist_gz_and_raw(mnist_root):
    tr = DATASETS.build(dict(type='MNIST', data_root=str(mnist_root), split='train', download=False,
                             pipeline=[dict(type='PackInputs')]))
    assert len(tr) == 6 and tr.get_gt_labels().tolist() == [0, 1, 2, 3, 4, 9]
    assert tr[0]['inputs'].shape == (1, 28, 28)
    te = DATASETS.build(dict(type='FashionMNIST', data_root=str(mnist_root), test_mode=True, download=False))
    assert len(te) == 2 and te.CLASSES[0] == 'T-shirt/top'
    (mnist_root / 'bad').mkdir(exist_ok=True)
    (mnist_root / 'bad' / 'train-images-idx3-ubyte').write_bytes(b'\x00\x00\x08\x03' + b'\x00' * 20)
    (mnist_root / 'bad' / 'train-labels-idx1-ubyte').write_bytes(b'\x00\x00\x08\x01\x00\x00\x00\x01\x05')
    with pytest.raises(DataError, match='truncated'):
        DATASETS.build(dict(type='MNIST', data_root=str(mnist_root / 'bad'), download=False))


def test_multilabel_json_and_txt(folder_data, tmp_path):
    ann = tmp_path / 'ml.json'
    ann.write_text(json.dumps({'metainfo': {'classes': ['a', 'b', 'c']},
                               'data_list': [{'img_path': 'cat/a.jpg', 'gt_label': [0, 2]},
                                             {'img_path': 'dog/d.jpeg', 'gt_label': [1]}]}))
    ds = DATASETS.build(dict(type='MultiLabelDataset', ann_file=str(ann), data_prefix=str(folder_data / 'train'),
                             pipeline=LOAD))
    assert ds.CLASSES == ('a', 'b', 'c') and ds.get_cat_ids(0) == [0, 2]
    assert ds[0]['data_samples'].gt_label.tolist() == [0, 2]
    txt = tmp_path / 'ml.txt'
    txt.write_text('cat/a.jpg 0 1 2\ndog/d.jpeg\n')
    ds2 = DATASETS.build(dict(type='MultiLabelDataset', ann_file=str(txt), data_prefix=str(folder_data / 'train'),
                              classes=['a', 'b', 'c']))
    assert ds2.get_cat_ids(0) == [0, 1, 2] and ds2.get_cat_ids(1) == []
    txt.write_text('cat/a.jpg 0 7\n')
    with pytest.raises(DataError, match='label 7, outside the 3 classes'):
        DATASETS.build(dict(type='MultiLabelDataset', ann_file=str(txt), classes=['a', 'b', 'c']))


def test_voc(tmp_path):
    root = tmp_path / 'VOC2007'
    (root / 'ImageSets' / 'Main').mkdir(parents=True)
    (root / 'ImageSets' / 'Main' / 'trainval.txt').write_text('000001\n000002\n')
    (root / 'Annotations').mkdir()
    xml = ('<annotation>' + ''.join(f'<object><name>{n}</name><difficult>{d}</difficult></object>'
                                    for n, d in objs) + '</annotation>' for objs in
           ([('dog', 0), ('person', 0), ('cat', 1)], [('car', 1), ('unknownthing', 0)]))
    for i, x in enumerate(xml, 1):
        (root / 'Annotations' / f'00000{i}.xml').write_text(x)
        write(root / 'JPEGImages' / f'00000{i}.jpg', jpeg_bytes(seed=i))
    ds = DATASETS.build(dict(type='VOC', data_root=str(root), split='trainval', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='PackInputs', meta_keys=('img_path', 'gt_label_difficult'))]))
    c = ds.class_to_idx
    assert ds.get_data_info(0)['gt_label'] == sorted([c['dog'], c['person']])
    assert ds.get_data_info(0)['gt_label_difficult'] == [c['cat']]
    assert ds.get_data_info(1)['gt_label'] == [] and ds.get_data_info(1)['gt_label_difficult'] == [c['car']]
    assert ds[0]['data_samples'].gt_label_difficult == [c['cat']]


def test_wrappers(folder_data):
    base = dict(type='CustomDataset', data_prefix=str(folder_data / 'train'))
    cat = DATASETS.build(dict(type='ConcatDataset', datasets=[base, base]))
    assert len(cat) == 8 and cat.get_data_info(5)['img_path'] == cat.get_data_info(1)['img_path']
    rep = DATASETS.build(dict(type='RepeatDataset', dataset=base, times=3))
    assert len(rep) == 12 and rep.get_cat_ids(11) == [1]
    folds = [DATASETS.build(dict(type='KFoldDataset', dataset=base, fold=f, num_splits=2, test_mode=True, seed=1))
             for f in range(2)]
    train0 = DATASETS.build(dict(type='KFoldDataset', dataset=base, fold=0, num_splits=2, seed=1))
    held = sorted(int(i) for f in folds for i in f.indices)
    assert held == [0, 1, 2, 3] and set(train0.indices.tolist()) == set(folds[1].indices.tolist())


def test_class_balanced(tmp_path):
    ann = tmp_path / 'a.txt'
    ann.write_text(''.join(f'x{i}.jpg 0\n' for i in range(9)) + 'rare.jpg 1\n')
    ds = DATASETS.build(dict(type='ClassBalancedDataset', oversample_thr=0.5,
                             dataset=dict(type='CustomDataset', ann_file=str(ann), classes=['common', 'rare'])))
    # rare class: f = 0.1 -> r = sqrt(0.5 / 0.1) = 2.24 -> 3 copies; common: f = 0.9 -> 1 copy
    assert len(ds) == 9 + 3 and [ds.get_cat_ids(i) for i in range(len(ds))].count([1]) == 3


def test_tar_shards_split_over_ranks_and_workers(tmp_path, monkeypatch):
    from torch.utils.data import DataLoader

    import fovea.data.datasets.tar_shards as ts
    shards = ts.write_tar_shards(((f'{i:05d}', jpeg_bytes(16, 16, seed=i), i % 3) for i in range(23)),
                                 str(tmp_path / 'shard-%04d.tar'), maxcount=5)
    assert len(shards) == 5
    cfg = dict(type='TarShardDataset', shards=str(tmp_path / 'shard-{0000..0004}.tar'), classes=['a', 'b', 'c'],
               pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs', meta_keys=('img_path',))])
    for nreaders in [(2, 1), (1, 2), (6, 1)]:  # (world, workers): shard split, worker split, per-sample split
        seen = []
        for rank in range(nreaders[0]):
            monkeypatch.setattr(ts, 'get_dist_info', lambda r=rank, w=nreaders[0]: (r, w))
            ds = DATASETS.build(dict(cfg, shuffle=True, seed=3))
            loader = DataLoader(ds, batch_size=None, num_workers=nreaders[1]) if nreaders[1] > 1 else ds
            for s in loader:
                key = os.path.basename(s['data_samples'].img_path).split('.')[0]
                assert s['data_samples'].gt_label.item() == int(key) % 3
                seen.append(key)
        assert sorted(seen) == [f'{i:05d}' for i in range(23)], nreaders
    monkeypatch.setattr(ts, 'get_dist_info', lambda: (0, 1))
    piped = DATASETS.build(dict(cfg, shards=[f'pipe:cat {shards[0]}'], classes=None))
    assert len(list(piped)) == 5
    (tmp_path / 'broken.tar').write_bytes(b'\x00' * 100 + b'not a tar')
    with pytest.raises(DataError, match='broken.tar is not a readable tar file'):
        list(DATASETS.build(dict(cfg, shards=str(tmp_path / 'broken.tar'))))


def test_digits_default_pipeline_unchanged():
    ds = DATASETS.build(dict(type='Digits', split='val', pipeline=[dict(type='Resize', scale=32),
                                                                     dict(type='PackInputs')]))
    out = ds[0]
    assert len(ds) == 364 and out['inputs'].shape == (1, 32, 32) and out['inputs'].dtype == torch.uint8

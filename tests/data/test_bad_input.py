"""Bad input: unreadable images, broken annotation lines, labels out of range, verify-dataset."""
from __future__ import annotations

import logging

import pytest
from data_testutil import jpeg_bytes, write

from fovea.registry import DATASETS
from fovea.utils.errors import DataError


@pytest.fixture(scope='module')
def bad_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad')
    good = jpeg_bytes(seed=1)
    write(root / 'a' / '0_good.jpg', good)
    write(root / 'a' / '1_truncated.jpg', good[:len(good) // 3])
    write(root / 'a' / '2_empty.jpg', b'')
    write(root / 'b' / '3_text.jpg', b'this is not an image at all')
    write(root / 'b' / '4_corrupt.png', b'\x89PNG\r\n\x1a\n' + b'\x00garbage' * 10)
    write(root / 'b' / '5_good.jpg', good)
    return root


PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.mark.parametrize('idx,name,reason', [(1, '1_truncated.jpg', 'truncated'), (2, '2_empty.jpg', 'empty'),
                                             (3, '3_text.jpg', 'cannot decode'), (4, '4_corrupt.png', 'cannot decode')])
def test_unreadable_image_error_names_file_and_index(bad_folder, idx, name, reason):
    ds = DATASETS.build(dict(type='CustomDataset', data_prefix=str(bad_folder), extensions=['.jpg', '.png'],
                             pipeline=PIPE))
    assert ds[0]['inputs'].shape == (3, 40, 48)
    with pytest.raises(DataError) as e:
        ds[idx]
    msg = str(e.value)
    assert f'sample {idx}' in msg and name in msg and reason in msg and 'skip_bad_samples' in msg


def test_missing_file(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('missing.jpg 0\n')
    ds = DATASETS.build(dict(type='CustomDataset', ann_file=str(ann), data_prefix=str(tmp_path), pipeline=PIPE))
    with pytest.raises(DataError, match=r'sample 0: image file .*missing\.jpg does not exist'):
        ds[0]


def test_skip_bad_samples_counts(bad_folder, caplog):
    ds = DATASETS.build(dict(type='CustomDataset', data_prefix=str(bad_folder), extensions=['.jpg', '.png'],
                             pipeline=PIPE, skip_bad_samples=True))
    with caplog.at_level(logging.WARNING, logger='fovea'):
        out = ds[1]  # 1-4 are bad: the next readable sample is 5
    assert out['data_samples'].img_path.endswith('5_good.jpg')
    assert ds.bad_samples == 4 and '4 skipped so far' in caplog.text and '4_corrupt.png' in caplog.text


def test_bad_annotation_line_names_file_and_line(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a.jpg 0\nb.jpg 1\n\nc.jpg cat\n')
    with pytest.raises(DataError, match=r'train\.txt, line 4: cannot parse .c\.jpg cat.'):
        DATASETS.build(dict(type='CustomDataset', ann_file=str(ann)))
    ann.write_text('a.jpg 0\n7\n')
    with pytest.raises(DataError, match=r'line 2'):
        DATASETS.build(dict(type='CustomDataset', ann_file=str(ann)))
    ann.write_bytes(b'a.jpg 0\n\xff\xfe 1\n')
    with pytest.raises(DataError, match=r'line 2: not valid UTF-8'):
        DATASETS.build(dict(type='CustomDataset', ann_file=str(ann)))


def test_label_out_of_range_is_named(tmp_path):
    ann = tmp_path / 'val.txt'
    ann.write_text('a.jpg 0\nb.jpg 3\nc.jpg -1\n')
    with pytest.raises(DataError, match=r"sample 1 \(.*b\.jpg\) has label 3, outside the 3 classes \(0\.\.2\); "
                                        r"2 sample\(s\) are out of range"):
        DATASETS.build(dict(type='CustomDataset', ann_file=str(ann), classes=['x', 'y', 'z']))


def test_missing_ann_and_folder(tmp_path):
    with pytest.raises(DataError, match='annotation file .*nope.txt does not exist'):
        DATASETS.build(dict(type='CustomDataset', ann_file=str(tmp_path / 'nope.txt')))
    with pytest.raises(DataError, match='data folder .* does not exist'):
        DATASETS.build(dict(type='CustomDataset', data_prefix=str(tmp_path / 'nope')))


def test_verify_dataset_cli(bad_folder, tmp_path, capsys):
    from fovea.cli.main import main
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f'''
train_dataloader = dict(batch_size=2, dataset=dict(type='CustomDataset', data_prefix={str(bad_folder)!r},
    extensions=['.jpg', '.png'], pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomResizedCrop', scale=8),
    dict(type='PackInputs')]))
val_dataloader = dict(batch_size=2, dataset=dict(type='CustomDataset', data_prefix={str(bad_folder / 'a')!r},
    with_label=False, extensions=['.jpg'], pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
''')
    out_file = tmp_path / 'bad.tsv'
    with pytest.raises(SystemExit) as e:
        main(['verify-dataset', str(cfg), '--num-workers', '2', '--out-path', str(out_file)])
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert 'checked 6 samples of the train set: 4 unreadable' in out
    for name in ('1_truncated.jpg', '2_empty.jpg', '3_text.jpg', '4_corrupt.png'):
        assert name in out and name in out_file.read_text()
    assert '0_good.jpg' not in out
    with pytest.raises(SystemExit):
        main(['verify-dataset', str(cfg), '--phase', 'val'])
    assert 'checked 3 samples of the val set: 2 unreadable' in capsys.readouterr().out


def test_pixel_guard_reads_headers(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    from fovea.data.transforms.loading import _header_size, read_image
    arr = np.zeros((37, 53, 3), np.uint8)
    for fmt, kw in (('PNG', {}), ('JPEG', {}), ('JPEG', {'progressive': True}), ('JPEG', {'exif': b'Exif\x00\x00'})):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=fmt, **kw)
        assert _header_size(buf.getvalue()) == (53, 37)
        p = tmp_path / f'x.{fmt.lower()}'
        p.write_bytes(buf.getvalue())
        assert read_image(str(p)).shape == (3, 37, 53)
        with pytest.raises(DataError, match=r'x\.\w+ is 53x37 = 1,961 pixels, more than max_pixels=1,000'):
            read_image(str(p), max_pixels=1000)

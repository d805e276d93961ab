"""Labels outside the head's num_classes are a ConfigError when the run is built (train and
`fovea test`), naming the dataset, the largest label, num_classes and the fix, instead of a raw
RuntimeError from the loss in the first iteration."""
from __future__ import annotations

import pytest
from PIL import Image

from fovea.cli.main import main
from fovea.config import Config
from fovea.engine.runner import Runner
from fovea.utils.errors import ConfigError


def _runner(tmp_path, *options):
    return Runner.from_cfg(Config.fromfile('lenet5_digits', [f'work_dir={tmp_path / "w"}', *options]))


def _images(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new('L', (8, 8), 128).save(root / name)


def _custom(root, **kw) -> list[str]:
    ds = {'_delete_': True, 'type': 'CustomDataset', 'data_prefix': str(root), **kw,
          'pipeline': [{'type': 'LoadImageFromFile', 'color_type': 'grayscale'}, {'type': 'Resize', 'scale': 32},
                       {'type': 'PackInputs'}]}
    return [f'train_dataloader.dataset={ds!r}'.replace(' ', ''), 'train_dataloader.batch_size=2']


def test_num_classes_smaller_than_the_digits(tmp_path):
    runner = _runner(tmp_path, 'model.head.num_classes=5')
    with pytest.raises(ConfigError) as info:
        runner.train()
    msg = str(info.value)
    assert 'train_dataloader.dataset: Digits' in msg and 'largest label is 9' in msg
    assert 'num_classes=5' in msg and 'model.head.num_classes=10' in msg
    assert runner.iter == 0


def test_more_class_folders_than_classes(tmp_path):
    _images(tmp_path / 'data', [f'c{i}/x.png' for i in range(12)])
    with pytest.raises(ConfigError, match=r'declares 12 classes; its largest label is 11 \(sample 11 \(.*c9/x.png\)'
                                          r'.*num_classes=10.*model.head.num_classes=12'):
        _runner(tmp_path, *_custom(tmp_path / 'data')).train()


def test_annotation_labels_without_classes(tmp_path):
    root = tmp_path / 'data'
    _images(root, ['a.png', 'b.png'])
    (tmp_path / 'ann.txt').write_text('a.png 3\nb.png 17\n')
    with pytest.raises(ConfigError, match=r'\(no classes declared\); its largest label is 17 \(sample 1 \(.*b.png\)\)'):
        _runner(tmp_path, *_custom(root, ann_file=str(tmp_path / 'ann.txt'))).train()


def test_fovea_test_checks_before_loading_or_running(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(['test', 'lenet5_digits', str(tmp_path / 'none.pth'), '--work-dir', str(tmp_path / 'w'),
              '--cfg-options', 'model.head.num_classes=5'])
    err = capsys.readouterr().err
    assert info.value.code == 1 and 'test_dataloader.dataset: Digits' in err and 'largest label is 9' in err

"""CUB-200-2011: the official folder layout, the train/test split, 0-based labels, clear errors."""
import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.data.datasets import CUB
from fovea.registry import DATASETS, build
from fovea.utils.errors import DataError


def _cub(root, n=12):
    """n images over 3 species; odd ids are training images (train_test_split 1)."""
    names = ['001.Black_footed_Albatross', '002.Laysan_Albatross', '003.Sooty_Albatross']
    images, labels, split = [], [], []
    for i in range(1, n + 1):
        cls = (i - 1) % 3
        rel = f'{names[cls]}/img_{i:04d}.jpg'
        (root / 'images' / names[cls]).mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (40, 30), (10 * i, 0, 0)).save(root / 'images' / rel)
        images.append(f'{i} {rel}')
        labels.append(f'{i} {cls + 1}')
        split.append(f'{i} {i % 2}')
    for name, lines in [('images.txt', images), ('image_class_labels.txt', labels), ('train_test_split.txt', split)]:
        (root / name).write_text('\n'.join(lines) + '\n')
    return root


def test_split_labels_and_paths(tmp_path):
    root = _cub(tmp_path / 'CUB_200_2011')
    train, test = CUB(str(root), split='train'), CUB(str(root), split='test')
    assert (len(train), len(test)) == (6, 6)
    assert len(train.CLASSES) == 200 and train.CLASSES[1] == 'Laysan_Albatross'
    first = train.get_data_info(0)
    assert first['img_path'] == str(root / 'images' / '001.Black_footed_Albatross' / 'img_0001.jpg')
    assert first['gt_label'] == 0                                  # 1-based in the files
    assert [test.get_data_info(i)['gt_label'] for i in range(6)] == [1, 0, 2, 1, 0, 2]


def test_train_split_with_test_mode_warns_and_keeps_the_split(tmp_path, caplog):
    root = _cub(tmp_path / 'CUB_200_2011')
    with caplog.at_level('WARNING', logger='fovea'):
        ds = CUB(str(root), split='train', test_mode=True)
    assert len(ds) == 6 and 'loads the training images' in caplog.text


def test_bad_folders_name_the_file(tmp_path):
    root = _cub(tmp_path / 'CUB_200_2011')
    (root / 'train_test_split.txt').unlink()
    with pytest.raises(DataError, match=r'train_test_split.txt does not exist.*CUB_200_2011 folder'):
        CUB(str(root))
    root = _cub(tmp_path / 'b')
    (root / 'image_class_labels.txt').write_text('1 1\n2 two words\n')
    with pytest.raises(DataError, match=r'image_class_labels.txt, line 2'):
        CUB(str(root))
    root = _cub(tmp_path / 'c')
    (root / 'image_class_labels.txt').write_text('1 1\n')
    with pytest.raises(DataError, match='list different image ids'):
        CUB(str(root))


def test_shipped_cub_config_builds_its_loaders_datasets(tmp_path):
    root = _cub(tmp_path / 'CUB_200_2011')
    cfg = Config.fromfile('resnet50_8xb8_cub', [f'train_dataloader.dataset.data_root={root}',
                                                 f'val_dataloader.dataset.data_root={root}'])
    assert cfg.model['head']['num_classes'] == 200
    train = build(cfg.train_dataloader['dataset'], DATASETS)
    val = build(cfg.val_dataloader['dataset'], DATASETS)
    assert (len(train), len(val)) == (6, 6)
    sample = train[0]
    assert sample['inputs'].shape == (3, 448, 448) and sample['inputs'].dtype == torch.uint8
    assert int(val[2]['data_samples'].gt_label) == 2

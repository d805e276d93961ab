"""Box-aware transforms of the RefCOCO pipeline (mmdet.RandomCrop, RandomChoiceResize, RandomTranslatePad,
Resize with boxes), ApplyToList (NLVR2's image pairs) and SequentialSampler's rank chunks."""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch

from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError, DataError


def _sample(h=40, w=60, box=(10., 5., 30., 25.)):
    img = torch.from_numpy(np.random.default_rng(0).integers(50, 250, (3, h, w), dtype=np.uint8))  # no repeats
    return {'img': img, 'img_shape': (h, w), 'gt_bboxes': np.array([box], dtype=np.float32)}


def test_resize_scales_and_clips_boxes():
    out = TRANSFORMS.build(dict(type='Resize', scale=(120, 20)))(_sample(box=(10., 5., 70., 25.)))
    assert out['img'].shape[-2:] == (20, 120) and out['scale_factor'] == (2.0, 0.5)
    torch.testing.assert_close(out['gt_bboxes'], torch.tensor([[20., 2.5, 120., 12.5]]))  # x2 140 clipped to 120
    kept = TRANSFORMS.build(dict(type='Resize', scale=(120, 20), clip_object_border=False))(
        _sample(box=(10., 5., 70., 25.)))
    assert float(kept['gt_bboxes'][0, 2]) == 140.0


def test_box_random_crop_moves_boxes_with_the_pixels():
    t = TRANSFORMS.build(dict(type='mmdet.RandomCrop', crop_type='relative_range', crop_size=(0.8, 0.8)))
    np.random.seed(1)
    for _ in range(10):
        src = _sample()
        out = t(dict(src))
        if out is None:
            continue
        h, w = out['img'].shape[-2:]
        assert 32 <= h <= 40 and 48 <= w <= 60
        # find where the window was taken from; the box moved by that offset, clipped to the window
        (top, left), = [(t_, l_) for t_ in range(41 - h) for l_ in range(61 - w)
                        if torch.equal(src['img'][:, t_:t_ + h, l_:l_ + w], out['img'])]
        x1, y1, x2, y2 = 10 - left, 5 - top, 30 - left, 25 - top
        expected = [max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)]
        torch.testing.assert_close(out['gt_bboxes'], torch.tensor([expected], dtype=torch.float32))
    # a crop that leaves no box drops the sample unless negative crops are allowed
    np.random.seed(0)
    tiny = dict(type='mmdet.RandomCrop', crop_size=(10, 10))
    assert TRANSFORMS.build(tiny)(_sample(box=(55., 35., 60., 40.))) is None
    out = TRANSFORMS.build(dict(tiny, allow_negative_crop=True))(_sample(box=(55., 35., 60., 40.)))
    assert out['gt_bboxes'].shape == (0, 4)
    with pytest.raises(ConfigError, match='shares of the image'):
        TRANSFORMS.build(dict(type='mmdet.RandomCrop', crop_type='relative', crop_size=(2, 2)))


def test_random_choice_resize_and_translate_pad():
    np.random.seed(0)
    sizes = set()
    t = TRANSFORMS.build(dict(type='RandomChoiceResize', scales=[(30, 30), (20, 20)], keep_ratio=False))
    for _ in range(20):
        out = t(_sample())
        sizes.add(out['img'].shape[-1])
        s = out['img'].shape[-1]
        torch.testing.assert_close(out['gt_bboxes'], torch.tensor([[10 * s / 60, 5 * s / 40, 30 * s / 60, 25 * s / 40]]))
    assert sizes == {20, 30}
    src = _sample()
    out = TRANSFORMS.build(dict(type='RandomTranslatePad', size=64))(dict(src))  # centred: top 12, left 2
    assert out['img'].shape == (3, 64, 64) and out['img_shape'] == (64, 64)
    assert torch.equal(out['img'][:, 12:52, 2:62], src['img']) and int(out['img'][:, :12].sum()) == 0
    torch.testing.assert_close(out['gt_bboxes'], torch.tensor([[12., 17., 32., 37.]]))
    np.random.seed(3)
    moved = TRANSFORMS.build(dict(type='RandomTranslatePad', size=64, aug_translate=True))(_sample())
    x1, y1 = (int(v) for v in moved['gt_bboxes'][0, :2])
    assert torch.equal(moved['img'][:, y1 - 5:y1 - 5 + 40, x1 - 10:x1 - 10 + 60], src['img'])
    with pytest.raises(DataError, match='larger than the canvas'):
        TRANSFORMS.build(dict(type='RandomTranslatePad', size=32))(_sample())


def test_apply_to_list_runs_the_pipeline_per_item(tmp_path):
    from PIL import Image
    paths = []
    for i, (h, w) in enumerate(((20, 30), (16, 12))):
        paths.append(str(tmp_path / f'{i}.png'))
        Image.fromarray(np.full((h, w, 3), 40 * (i + 1), np.uint8)).save(paths[-1])
    t = TRANSFORMS.build(dict(type='ApplyToList', scatter_key='img_path', collate_keys=['img', 'ori_shape'],
                              transforms=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(8, 8))]))
    out = t({'img_path': paths, 'text': 'two images'})
    assert out['img_path'] == paths and out['ori_shape'] == [(20, 30), (16, 12)]
    assert [int(im[0, 0, 0]) for im in out['img']] == [40, 80] and all(im.shape == (3, 8, 8) for im in out['img'])
    assert out['text'] == 'two images' and out['img_shape'] == (8, 8)  # not collated: the first item's
    single = t({'img_path': paths[1]})
    assert single['img'].shape == (3, 8, 8)


@pytest.mark.parametrize('round_up', [True, False])
def test_sequential_sampler_gives_each_rank_a_chunk(round_up):
    import fovea.data.samplers as samplers
    chunks = []
    for rank in range(3):
        with mock.patch.object(samplers, 'get_dist_info', return_value=(rank, 3)):
            s = samplers.SequentialSampler(list(range(8)), subsample_type='sequential', round_up=round_up)
            chunks.append(list(s))
            assert len(s) == len(chunks[-1])
    assert chunks == ([[0, 1, 2], [3, 4, 5], [6, 7, 0]] if round_up else [[0, 1], [2, 3, 4], [5, 6, 7]])
    with mock.patch.object(samplers, 'get_dist_info', return_value=(1, 3)):
        assert list(samplers.SequentialSampler(list(range(8)))) == [1, 4, 7]  # 'default' interleaves
    with pytest.raises(ConfigError, match="'default' or 'sequential'"):
        samplers.SequentialSampler(list(range(8)), subsample_type='chunks')

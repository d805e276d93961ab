"""Transforms given MMPretrain-layout images (HWC NumPy, BGR) convert them once or refuse them clearly."""
import numpy as np
import pytest
import torch

from fovea.data.transforms import CenterCrop, Compose, PackInputs, RandomCrop, RandomFlip, Resize
from fovea.utils.errors import DataError


def _bgr_image(h=256, w=256):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 200  # blue in BGR order
    img[..., 2] = 10   # red
    return img


@pytest.mark.parametrize('t', [RandomCrop(224), CenterCrop(224), Resize(224)])
def test_hwc_numpy_is_converted_to_chw_rgb(t):
    out = t({'img': _bgr_image()})
    img = out['img']
    assert isinstance(img, torch.Tensor) and img.dtype == torch.uint8
    assert tuple(img.shape) == (3, 224, 224)  # was (256, 224, 3) for RandomCrop: a silent wrong crop
    assert out['img_shape'] == (224, 224)
    assert img[:, 0, 0].tolist() == [10, 0, 200]  # RGB


def test_rgb_arrays_keep_their_order_when_the_sample_says_so():
    out = CenterCrop(8)({'img': _bgr_image(16, 16), 'mmpretrain_bgr': False})
    assert out['img'][:, 0, 0].tolist() == [200, 0, 10]


def test_grey_and_non_square_arrays():
    out = RandomCrop((10, 20))({'img': np.full((30, 40), 7, np.uint8)})
    assert tuple(out['img'].shape) == (1, 10, 20) and out['ori_shape'] == (30, 40)
    out = CenterCrop((10, 20))({'img': np.zeros((30, 40, 3), np.uint8)})
    assert tuple(out['img'].shape) == (3, 20, 10)  # MMCV's CenterCrop size is (w, h)


class NumpyUserTransform:
    """An MMPretrain-style transform of the user's own: gives back an HWC BGR array."""

    def __call__(self, results):
        results['img'] = _bgr_image(64, 48)
        results['img_shape'] = (64, 48)
        return results


def test_user_transform_emitting_numpy_in_a_pipeline():
    pipe = Compose([NumpyUserTransform(), RandomFlip(prob=1.0, direction='horizontal'), CenterCrop(32), PackInputs()])
    out = pipe({'img': torch.zeros(3, 8, 8, dtype=torch.uint8)})
    assert tuple(out['inputs'].shape) == (3, 32, 32)
    assert out['inputs'][:, 0, 0].tolist() == [10, 0, 200]


def test_pack_inputs_converts_multi_view_lists():
    out = PackInputs()({'img': [_bgr_image(8, 8), _bgr_image(8, 8)]})
    assert [tuple(v.shape) for v in out['inputs']] == [(3, 8, 8), (3, 8, 8)]
    assert out['inputs'][0][:, 0, 0].tolist() == [10, 0, 200]


@pytest.mark.parametrize('img, words', [
    (np.zeros((3, 32, 32), np.uint8), 'looks like (C, H, W)'),
    (np.zeros((32, 32, 3), np.float32), 'float32'),
    (np.zeros((2, 32, 32, 3), np.uint8), 'not an (H, W) or (H, W, C)'),
    (torch.zeros(32, 32, 3, dtype=torch.uint8), 'looks like (H, W, C)'),
])
def test_ambiguous_or_wrong_images_name_the_transform(img, words):
    with pytest.raises(DataError, match='RandomCrop') as info:
        RandomCrop(16)({'img': img})
    assert words in str(info.value)


def test_chw_tensors_pass_untouched():
    img = torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8)
    out = CenterCrop(40)({'img': img})
    assert out['img'] is img or torch.equal(out['img'], img)


def test_mmcv_style_transforms_get_hwc_bgr_arrays():
    # a transform written on mmcv.transforms.BaseTransform, as MMPretrain's are (mmcv is not needed
    # to test this: the base class is recognised by its module and name)
    MMCVBase = type('BaseTransform', (), {'__module__': 'mmcv.transforms.base'})
    seen = {}

    class FlipChannels(MMCVBase):
        def __call__(self, results):
            seen['img'] = results['img']
            results['img'] = results['img'][:, ::-1]  # NumPy horizontal flip, as mmcv.imflip does
            return results

    img = torch.zeros(3, 4, 6, dtype=torch.uint8)
    img[0] = 10  # red
    img[2, :, 0] = 200  # blue left column
    out = Compose([FlipChannels(), CenterCrop((6, 4)), PackInputs()])({'img': img})
    assert isinstance(seen['img'], np.ndarray) and seen['img'].shape == (4, 6, 3)
    assert seen['img'][0, 0].tolist() == [200, 0, 10]  # BGR
    assert tuple(out['inputs'].shape) == (3, 4, 6)
    assert out['inputs'][:, 0, 5].tolist() == [10, 0, 200]  # back to RGB; the blue column moved right
    assert out['inputs'][:, 0, 0].tolist() == [10, 0, 0]


def test_pack_inputs_packs_float_and_video_arrays():
    out = PackInputs()({'img': np.random.rand(30, 40)})  # a float greyscale array, as mean(-1) gives
    assert tuple(out['inputs'].shape) == (1, 30, 40) and out['inputs'].dtype == torch.float64
    video = np.random.randint(0, 256, (10, 3, 1, 22, 22), dtype=np.uint8)
    assert torch.equal(PackInputs()({'img': video})['inputs'], torch.from_numpy(video))
    with pytest.raises(DataError, match='float64'):  # other transforms still want uint8
        CenterCrop(8)({'img': np.random.rand(30, 40)})

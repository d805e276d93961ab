"""Transforms: determinism under a seed, output shape/dtype, and MMCV semantics."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from fovea.registry import TRANSFORMS
from fovea.data.transforms.loading import decode_image_bytes

IMG = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 60, 80), dtype=np.uint8))

# (config, expected output (C, H, W) for a 3x60x80 input)
CASES = [
    (dict(type='Resize', scale=(40, 30)), (3, 30, 40)),
    (dict(type='Resize', scale=(100, 50), keep_ratio=True), (3, 50, 67)),
    (dict(type='Resize', scale_factor=0.5, interpolation='bicubic'), (3, 30, 40)),
    (dict(type='ResizeEdge', scale=30, edge='short'), (3, 30, 40)),
    (dict(type='ResizeEdge', scale=40, edge='long', interpolation='lanczos'), (3, 30, 40)),
    (dict(type='RandomResizedCrop', scale=24), (3, 24, 24)),
    (dict(type='RandomResizedCrop', scale=(20, 24), crop_ratio_range=(0.5, 1.0), backend='pillow',
          interpolation='bicubic'), (3, 20, 24)),
    (dict(type='EfficientNetRandomCrop', scale=32), (3, 32, 32)),
    (dict(type='CenterCrop', crop_size=32), (3, 32, 32)),
    (dict(type='CenterCrop', crop_size=(100, 20)), (3, 20, 80)),
    (dict(type='EfficientNetCenterCrop', crop_size=32), (3, 32, 32)),
    (dict(type='RandomCrop', crop_size=32, padding=4), (3, 32, 32)),
    (dict(type='RandomCrop', crop_size=(70, 85), pad_if_needed=True, padding_mode='reflect'), (3, 70, 85)),
    (dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']), (3, 60, 80)),
    (dict(type='RandomFlip', prob=[0.3, 0.3], direction=['horizontal', 'diagonal']), (3, 60, 80)),
    (dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1), (3, 60, 80)),
    (dict(type='Lighting', eigval=[55.46, 4.794, 1.148],
          eigvec=[[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]),
     (3, 60, 80)),
    (dict(type='RandomGrayscale', prob=0.5, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
     (3, 60, 80)),
    (dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.9), (3, 60, 80)),
    (dict(type='Solarize', thr=128, prob=0.7), (3, 60, 80)),
    (dict(type='SolarizeAdd', magnitude_range=(0, 110), prob=0.7), (3, 60, 80)),
    (dict(type='Posterize', bits=4, prob=0.7), (3, 60, 80)),
    (dict(type='Equalize', prob=0.7), (3, 60, 80)),
    (dict(type='AutoContrast', prob=0.7), (3, 60, 80)),
    (dict(type='Invert', prob=0.7), (3, 60, 80)),
    (dict(type='Rotate', angle=30., prob=0.7, interpolation='bicubic'), (3, 60, 80)),
    (dict(type='Shear', magnitude=0.3, prob=0.7, direction='vertical'), (3, 60, 80)),
    (dict(type='Translate', magnitude=0.2, prob=0.7), (3, 60, 80)),
    (dict(type='Brightness', magnitude=0.5, prob=0.7), (3, 60, 80)),
    (dict(type='Contrast', magnitude=0.5, prob=0.7), (3, 60, 80)),
    (dict(type='Sharpness', magnitude=0.5, prob=0.7), (3, 60, 80)),
    (dict(type='ColorTransform', magnitude=0.5, prob=0.7), (3, 60, 80)),
    (dict(type='Cutout', shape=10, prob=0.7), (3, 60, 80)),
    (dict(type='RandomErasing', erase_prob=0.9, mode='rand', fill_color=(104, 116, 124), fill_std=(57, 57, 58)),
     (3, 60, 80)),
    (dict(type='RandomErasing', erase_prob=0.9, mode='const', fill_color=0), (3, 60, 80)),
    (dict(type='AutoAugment', policies='imagenet', hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
     (3, 60, 80)),
    (dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10, magnitude_level=9,
          magnitude_std=0.5, hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')), (3, 60, 80)),
    (dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4)], prob=0.8), (3, 60, 80)),
    (dict(type='torchvision/RandomResizedCrop', size=24, interpolation='bicubic'), (3, 24, 24)),
    (dict(type='torchvision/RandomHorizontalFlip', p=0.5), (3, 60, 80)),
    (dict(type='Pad', size_divisor=32), (3, 64, 96)),
]


def _run(cfg, seed):
    np.random.seed(seed)
    torch.manual_seed(seed)
    t = TRANSFORMS.build(cfg)
    return t({'img': IMG.clone(), 'img_shape': (60, 80), 'ori_shape': (60, 80)})


@pytest.mark.parametrize('cfg,shape', CASES, ids=[c['type'] for c, _ in CASES])
def test_transform_shape_dtype_and_seed(cfg, shape):
    outs = [_run(cfg, s)['img'] for s in (1, 1, 2, 3, 4)]
    for o in outs:
        assert o.dtype == torch.uint8 and tuple(o.shape) == shape, (o.dtype, o.shape)
    assert torch.equal(outs[0], outs[1])  # same seed, same output


@pytest.mark.parametrize('cfg', [c for c, _ in CASES if c['type'] in (
    'RandomResizedCrop', 'RandomCrop', 'RandomFlip', 'ColorJitter', 'RandAugment', 'AutoAugment',
    'RandomErasing', 'Rotate')], ids=lambda c: c['type'])
def test_random_transforms_vary_with_seed(cfg):
    outs = [_run(cfg, s)['img'] for s in range(6)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_geometry_semantics():
    img = torch.arange(12, dtype=torch.uint8).view(1, 3, 4)
    rot = TRANSFORMS.build(dict(type='Rotate', angle=90., prob=1., random_negative_prob=0., pad_val=0))
    sq = torch.arange(16, dtype=torch.uint8).view(1, 4, 4)
    assert torch.equal(rot({'img': sq})['img'], torch.rot90(sq, k=-1, dims=(1, 2)))  # positive = clockwise
    tr = TRANSFORMS.build(dict(type='Translate', magnitude=0.25, prob=1., random_negative_prob=0., pad_val=0))
    out = tr({'img': img})['img']  # shift right by 1 column
    assert torch.equal(out[..., 1:], img[..., :-1]) and out[..., 0].eq(0).all()
    sh = TRANSFORMS.build(dict(type='Shear', magnitude=1.0, prob=1., random_negative_prob=0., pad_val=0,
                               interpolation='nearest'))
    out = sh({'img': sq})['img']  # dst(x + y, y) = src(x, y): row y moves right by y
    for y in range(4):
        assert torch.equal(out[0, y, y:], sq[0, y, :4 - y])
    flip = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))
    r = flip({'img': img})
    assert torch.equal(r['img'], img.flip(-1)) and r['flip'] and r['flip_direction'] == 'horizontal'
    crop = TRANSFORMS.build(dict(type='CenterCrop', crop_size=2))
    assert torch.equal(crop({'img': img})['img'], img[:, 0:2, 1:3])  # round((3 - 2) / 2) = 0, round(1.0) = 1
    pad = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(3, 4), padding=2, pad_val=7))
    np.random.seed(0)
    seen = {tuple(pad({'img': img})['img'].flatten().tolist()) for _ in range(40)}
    assert len(seen) > 5 and any(7 in s for s in seen)


def test_resize_edge_and_rrc_match_mmpretrain_rules():
    r = TRANSFORMS.build(dict(type='ResizeEdge', scale=256, edge='short'))({'img': torch.zeros(3, 375, 500,
                                                                                                dtype=torch.uint8)})
    assert r['img'].shape[-2:] == (256, 341) and r['scale'] == (341, 256)  # int(256 * 500 / 375) = 341
    t = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=224))
    np.random.seed(5)
    top, left, h, w = t.rand_crop_params(375, 500)
    assert 0 <= top <= 375 - h and 0 <= left <= 500 - w and 0.08 * 375 * 500 * 0.9 <= h * w <= 375 * 500


def test_pixel_ops():
    img = torch.tensor([[[0, 100, 200, 255]]], dtype=torch.uint8)
    sol = TRANSFORMS.build(dict(type='Solarize', thr=128, prob=1.))({'img': img})['img']
    assert sol.flatten().tolist() == [0, 100, 55, 0]
    post = TRANSFORMS.build(dict(type='Posterize', bits=2, prob=1.))({'img': img})['img']
    assert post.flatten().tolist() == [0, 64, 192, 192]
    add = TRANSFORMS.build(dict(type='SolarizeAdd', magnitude=100, prob=1.))({'img': img})['img']
    assert add.flatten().tolist() == [100, 200, 200, 255]
    grey = TRANSFORMS.build(dict(type='RandomGrayscale', prob=1., channel_weights=(0.114, 0.587, 0.299)))
    rgb = torch.tensor([255, 0, 0], dtype=torch.uint8).view(3, 1, 1)
    assert grey({'img': rgb})['img'].flatten().tolist() == [76]  # BGR weights reversed onto the RGB image


def test_randaugment_magnitudes():
    ra = TRANSFORMS.build(dict(type='RandAugment', policies='timm_increasing', num_policies=2, magnitude_level=9,
                               hparams=dict(pad_val=0)))
    rot = next(t for t in ra.transforms if type(t).__name__ == 'Rotate')
    assert rot.magnitude_level == 9 and rot.pad_val == 0 and rot.random_magnitude() == pytest.approx(27.0)
    post = next(t for t in ra.transforms if type(t).__name__ == 'Posterize')
    assert post.random_magnitude() == pytest.approx(0.4)  # (4, 0) range at 9/10
    assert len(ra.transforms) == 15


def test_multiview_and_collate():
    from fovea.data.collate import default_collate
    mv = TRANSFORMS.build(dict(type='MultiView', num_views=[2, 1], transforms=[
        [dict(type='RandomResizedCrop', scale=16), dict(type='RandomFlip', prob=0.5)],
        [dict(type='RandomResizedCrop', scale=8)]]))
    pack = TRANSFORMS.build(dict(type='PackInputs'))
    samples = [pack(mv({'img': IMG.clone(), 'gt_label': 1})) for _ in range(3)]
    assert [v.shape for v in samples[0]['inputs']] == [(3, 16, 16), (3, 16, 16), (3, 8, 8)]
    batch = default_collate(samples)
    assert [tuple(v.shape) for v in batch['inputs']] == [(3, 3, 16, 16), (3, 3, 16, 16), (3, 3, 8, 8)]


def _encode(arr_or_img, fmt, **kw):
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_loading_modes():
    arr = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    rgb = decode_image_bytes(_encode(arr, 'PNG'))
    assert torch.equal(rgb, torch.from_numpy(arr).permute(2, 0, 1))  # RGB order, lossless
    grey = decode_image_bytes(_encode(Image.fromarray(arr).convert('L'), 'JPEG'))
    assert grey.shape == (3, 20, 30) and torch.equal(grey[0], grey[2])
    assert decode_image_bytes(_encode(arr, 'JPEG'), 'grayscale').shape == (1, 20, 30)
    cmyk = decode_image_bytes(_encode(Image.fromarray(arr).convert('CMYK'), 'JPEG', quality=95))
    assert cmyk.shape == (3, 20, 30) and (cmyk.float() - torch.from_numpy(arr).permute(2, 0, 1)).abs().mean() < 25
    img16 = Image.fromarray((np.arange(600).reshape(20, 30) * 100).astype(np.uint16))
    d16 = decode_image_bytes(_encode(img16, 'PNG'))
    assert d16.dtype == torch.uint8 and d16[0, 19, 29].item() == (599 * 100) >> 8
    pal = decode_image_bytes(_encode(Image.fromarray(arr).convert('P'), 'PNG'))
    assert pal.shape == (3, 20, 30)
    rgba = _encode(Image.fromarray(arr).convert('RGBA'), 'PNG')
    assert decode_image_bytes(rgba).shape == (3, 20, 30) and decode_image_bytes(rgba, 'unchanged').shape == (4, 20, 30)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: displayed as 30 x 20
    rotated = decode_image_bytes(_encode(im, 'JPEG', exif=exif))
    assert rotated.shape == (3, 30, 20)
    assert decode_image_bytes(_encode(im, 'JPEG', exif=exif), 'color_ignore_orientation').shape == (3, 20, 30)
    assert decode_image_bytes(_encode(arr, 'BMP')).shape == (3, 20, 30)

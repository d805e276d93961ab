"""Video data: SampleFrames' index choice (MMAction2's semantics), PyAV decoding, frame folders,
MultiScaleCrop, the two video datasets and their errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fovea.data.transforms import MultiScaleCrop, SampleFrames
from fovea.registry import DATASETS
from fovea.utils.errors import DataError

from video_testutil import motion_clip, write_video


def _inds(total: int, **kwargs) -> list[int]:
    return SampleFrames(**kwargs).transform(dict(total_frames=total, start_index=0))['frame_inds'].tolist()


def test_sample_frames_follows_mmaction2():
    # test mode, 2D (clip_len=1): the middle frame of each of num_clips equal segments
    assert _inds(80, clip_len=1, num_clips=8, test_mode=True) == [5, 15, 25, 35, 45, 55, 65, 75]
    # ... twice_sample adds the segments' first frames as a second clip
    assert _inds(16, clip_len=1, num_clips=4, test_mode=True, twice_sample=True) == [2, 6, 10, 14, 0, 4, 8, 12]
    # test mode, 3D: evenly spaced clips of clip_len frames, frame_interval apart
    assert _inds(100, clip_len=4, frame_interval=2, num_clips=3, test_mode=True) == \
        [0, 2, 4, 6, 46, 48, 50, 52, 93, 95, 97, 99]
    assert _inds(100, clip_len=4, frame_interval=2, num_clips=1, test_mode=True) == [46, 48, 50, 52]
    # training: one random offset inside each segment
    np.random.seed(0)
    for _ in range(20):
        inds = _inds(80, clip_len=1, num_clips=8)
        assert [i // 10 for i in inds] == list(range(8))
    # short videos: indices wrap around ('loop') or repeat the clip's last frame ('repeat_last')
    assert _inds(5, clip_len=8, test_mode=True) == [0, 1, 2, 3, 4, 0, 1, 2]
    assert _inds(5, clip_len=8, test_mode=True, out_of_bound_opt='repeat_last') == [0, 1, 2, 3, 4, 4, 4, 4]
    # frame folders count from start_index
    out = SampleFrames(clip_len=1, num_clips=2, test_mode=True).transform(dict(total_frames=4, start_index=1))
    assert out['frame_inds'].tolist() == [2, 4] and out['num_clips'] == 2 and out['clip_len'] == 1


def test_multi_scale_crop_picks_mmaction2_sizes_and_places():
    import random
    random.seed(0)
    img = torch.zeros(3, 3, 100, 200, dtype=torch.uint8)
    sides = {int(100 * s) for s in (1, 0.875, 0.75, 0.66)}
    seen = set()
    for _ in range(200):
        out = MultiScaleCrop(input_size=74, scales=(1, 0.875, 0.75, 0.66)).transform({'img': img})
        x1, y1, x2, y2 = out['crop_bbox'].tolist()
        w, h = x2 - x1, y2 - y1
        assert out['img'].shape == (3, 3, h, w) and out['img_shape'] == (h, w)
        assert {w if w != 74 else 75, h if h != 74 else 75} <= sides   # 75 px is within 2 px of 74: snapped
        levels = sorted(sides, reverse=True)
        assert abs(levels.index(w if w != 74 else 75) - levels.index(h if h != 74 else 75)) <= 1
        assert x1 in {0, (200 - w) // 4 * 2, (200 - w) // 4 * 4} and y1 in {0, (100 - h) // 4 * 2, (100 - h) // 4 * 4}
        seen.add((x1 == 0, y1 == 0))
    assert len(seen) == 4


@pytest.fixture
def av():
    return pytest.importorskip('av', reason="PyAV decodes videos: pip install 'fovea[video]'")


def _pipeline(num_clips=4, test_mode=True):
    return [dict(type='PyAVInit'), dict(type='SampleFrames', clip_len=1, num_clips=num_clips, test_mode=test_mode),
            dict(type='PyAVDecode'), dict(type='PackInputs')]


@pytest.mark.parametrize('codec,ext', [('libx264rgb', 'mp4'), ('ffv1', 'mkv')])
def test_video_dataset_decodes_the_sampled_frames(tmp_path, av, codec, ext):
    clip = motion_clip(1, np.random.default_rng(0), frames=8)
    write_video(tmp_path / 'v' / f'a.{ext}', clip, codec=codec)   # mkv: no frame count in the header
    (tmp_path / 'ann.txt').write_text(f'a.{ext} 1\n')
    ds = DATASETS.build(dict(type='VideoDataset', ann_file=str(tmp_path / 'ann.txt'),
                             data_prefix=dict(video=str(tmp_path / 'v')), pipeline=_pipeline()))
    out = ds[0]
    assert out['inputs'].shape == (4, 3, 32, 32) and out['inputs'].dtype == torch.uint8
    want = torch.from_numpy(clip[[1, 3, 5, 7]]).permute(0, 3, 1, 2).int()
    tol = 0 if codec == 'libx264rgb' else 2                         # ffv1 here goes through YUV
    assert (out['inputs'].int() - want).abs().max() <= tol
    assert int(out['data_samples'].gt_label) == 1


def test_video_dataset_class_folders_and_errors(tmp_path, av):
    rng = np.random.default_rng(0)
    for name in ('left', 'right'):
        write_video(tmp_path / 'train' / name / 'sub' / 'x.mp4', motion_clip(0, rng))
    (tmp_path / 'train' / 'left' / 'notes.txt').write_text('not a video')
    ds = DATASETS.build(dict(type='VideoDataset', data_prefix=str(tmp_path / 'train'), pipeline=_pipeline()))
    assert ds.CLASSES == ('left', 'right') and len(ds) == 2 and list(ds.get_gt_labels()) == [0, 1]
    assert ds[1]['inputs'].shape == (4, 3, 32, 32)
    (tmp_path / 'ann.txt').write_text('missing.mp4 0\nbad.mp4 1\n')
    (tmp_path / 'bad.mp4').write_bytes(b'not a video at all')
    ds = DATASETS.build(dict(type='VideoDataset', ann_file=str(tmp_path / 'ann.txt'), data_prefix=str(tmp_path),
                             pipeline=_pipeline()))
    with pytest.raises(DataError, match='missing.mp4 does not exist'):
        ds[0]
    with pytest.raises(DataError, match='bad.mp4'):
        ds[1]


def test_rawframe_dataset_reads_frame_folders(tmp_path):
    from PIL import Image
    clip = motion_clip(0, np.random.default_rng(0), frames=6)
    for i, frame in enumerate(clip, 1):
        (tmp_path / 'frames' / 'v0').mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(tmp_path / 'frames' / 'v0' / f'img_{i:05}.png')
    (tmp_path / 'ann.txt').write_text('v0 6 3\n')
    pipeline = [dict(type='SampleFrames', clip_len=1, num_clips=3, test_mode=True), dict(type='RawFrameDecode'),
                dict(type='PackInputs')]
    ds = DATASETS.build(dict(type='RawframeDataset', ann_file=str(tmp_path / 'ann.txt'),
                             data_prefix=dict(img=str(tmp_path / 'frames')), filename_tmpl='img_{:05}.png',
                             pipeline=pipeline))
    out = ds[0]
    # 6 frames, 3 segments: middles 1, 3, 5 counted from start_index 1 -> files 2, 4, 6
    assert torch.equal(out['inputs'], torch.from_numpy(clip[[1, 3, 5]]).permute(0, 3, 1, 2))
    assert int(out['data_samples'].gt_label) == 3
    (tmp_path / 'bad.txt').write_text('v0 6\n')
    with pytest.raises(DataError, match='line 1: expected "frame_dir total_frames label"'):
        DATASETS.build(dict(type='RawframeDataset', ann_file=str(tmp_path / 'bad.txt'), pipeline=pipeline))


def test_clip_goes_through_image_transforms_and_the_preprocessor():
    """A (V, C, H, W) clip takes fovea's image transforms frame by frame alike, and the collated
    (N, V, C, H, W) batch is normalised per channel."""
    from fovea.data.collate import default_collate
    from fovea.data.transforms import Compose
    from fovea.registry import MODELS
    clip = torch.randint(0, 256, (4, 3, 40, 60), dtype=torch.uint8)
    pipe = Compose([dict(type='ResizeEdge', scale=32, edge='short'), dict(type='CenterCrop', crop_size=32),
                    dict(type='RandomFlip', prob=1.0), dict(type='PackInputs')])
    packed = pipe({'img': clip, 'gt_label': 0, 'mmpretrain_bgr': False})
    assert packed['inputs'].shape == (4, 3, 32, 32)
    assert torch.equal(packed['inputs'][2], pipe({'img': clip[2:3], 'gt_label': 0})['inputs'][0])
    batch = default_collate([packed, packed])
    pre = MODELS.build(dict(type='ActionDataPreprocessor', mean=[10., 20., 30.], std=[2., 4., 8.]))
    out = pre(batch)['inputs']
    assert out.shape == (2, 4, 3, 32, 32)
    assert torch.allclose(out[1, 3, 2], (packed['inputs'][3, 2].float() - 30) / 8)


def test_shipped_video_configs_load_clips(tmp_path, av):
    """The video dataset base (and the TSN/TSM recipes on it) reads a folder of videos: 8 segments of
    224 px crops for training and validation, TSM's test pipeline two clips of 8."""
    from fovea.config import Config
    from fovea.data.loader import build_dataloader
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for label, name in enumerate(('a', 'b')):
            write_video(tmp_path / split / name / '0.mp4', motion_clip(label, rng, frames=10, height=40, width=48))
    for config, key, frames in (('_base_/datasets/video_folder_1x1x8.py', 'train_dataloader', 8),
                                ('_base_/datasets/video_folder_1x1x8.py', 'val_dataloader', 8),
                                ('tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_video', 'test_dataloader', 25),
                                ('tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_video', 'test_dataloader', 16)):
        cfg = Config.fromfile(config)
        loader_cfg = dict(cfg[key], batch_size=2, num_workers=0)
        loader_cfg.pop('persistent_workers', None)
        loader_cfg['dataset'] = dict(loader_cfg['dataset'], data_root=str(tmp_path))
        batch = next(iter(build_dataloader(loader_cfg, seed=0, key=key)))
        assert batch['inputs'].shape == (2, frames, 3, 224, 224), (config, key)
        assert sorted(int(s.gt_label) for s in batch['data_samples']) == [0, 1]

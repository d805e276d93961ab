"""Video transforms: frame sampling, decoding and multi-scale cropping (MMAction2's semantics).

A clip travels as ``results['img']``: a uint8 ``(V, C, H, W)`` RGB tensor of the V sampled frames
(segments x clips, in sampling order), so fovea's image transforms (``Resize``, ``ResizeEdge``,
``CenterCrop``, ``RandomFlip``, ...) apply to every frame of a clip alike, and ``PackInputs``
packs it; the collated batch is ``(N, V, C, H, W)`` for ``Recognizer2D``.

Pipeline of a video file: ``PyAVInit`` (open, count frames) -> ``SampleFrames`` (choose indices)
-> ``PyAVDecode`` (decode those frames); of a frame folder: ``SampleFrames`` -> ``RawFrameDecode``.
PyAV is an optional dependency: ``pip install 'fovea[video]'``.
"""
from __future__ import annotations

import os
import random
from typing import Sequence

import numpy as np
import torch

from fovea.data.transforms.base import BaseTransform
from fovea.data.transforms.loading import read_image
from fovea.registry import TRANSFORMS
from fovea.utils.errors import ConfigError, DataError, require

__all__ = ['SampleFrames', 'PyAVInit', 'PyAVDecode', 'RawFrameDecode', 'MultiScaleCrop']


def _set_clip(results: dict, frames: torch.Tensor) -> dict:
    results['img'] = frames
    results['img_shape'] = results['original_shape'] = results['ori_shape'] = tuple(frames.shape[-2:])
    results['mmpretrain_bgr'] = False  # decoded RGB (MMAction2 also decodes video frames to RGB)
    return results


@TRANSFORMS.register_module()
class SampleFrames(BaseTransform):
    """Choose the frame indices of ``num_clips`` clips of ``clip_len`` frames (MMAction2's semantics).

    Training: the video is cut into ``num_clips`` equal segments and each clip starts at a random
    offset inside its segment (TSN's segment sampling when ``clip_len=1``). Test (``test_mode``): for
    ``clip_len=1`` the middle frame of each segment (``twice_sample`` adds the segments' first
    frames as a second set of clips); otherwise ``num_clips`` evenly spaced clips. Indices past the
    end wrap around (``out_of_bound_opt='loop'``) or repeat the clip's last frame ('repeat_last').

    Required Keys: ``total_frames``, ``start_index``.
    Added Keys: ``frame_inds`` (int32, ``num_clips * clip_len`` or twice that), ``clip_len``,
    ``frame_interval``, ``num_clips``.

    Args:
        clip_len: frames per clip (1 for 2D recognizers: each clip is one segment's frame).
        frame_interval: step between the frames of a clip.
        num_clips: clips (segments) per video.
        temporal_jitter: add a random offset below ``frame_interval`` to every frame index.
        twice_sample: in test mode, sample a second set of clips (see above).
        out_of_bound_opt: 'loop' or 'repeat_last'.
        test_mode: deterministic test-time sampling.
        keep_tail_frames: in training, spread the clips over the whole video including its tail.
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1, temporal_jitter: bool = False,
                 twice_sample: bool = False, out_of_bound_opt: str = 'loop', test_mode: bool = False,
                 keep_tail_frames: bool = False, target_fps: int | None = None):
        if out_of_bound_opt not in ('loop', 'repeat_last'):
            raise ConfigError(f"SampleFrames out_of_bound_opt={out_of_bound_opt!r}: use 'loop' or 'repeat_last'.")
        if min(clip_len, frame_interval, num_clips) < 1:
            raise ConfigError(f'SampleFrames needs clip_len, frame_interval and num_clips >= 1, got '
                              f'{clip_len}, {frame_interval}, {num_clips}.')
        if target_fps is not None:
            raise ConfigError('SampleFrames target_fps is not implemented in fovea; remove it from the pipeline.')
        self.clip_len, self.frame_interval, self.num_clips = clip_len, frame_interval, num_clips
        self.temporal_jitter, self.twice_sample = temporal_jitter, twice_sample
        self.out_of_bound_opt, self.test_mode, self.keep_tail_frames = out_of_bound_opt, test_mode, keep_tail_frames

    def _train_offsets(self, num_frames: int, ori_clip_len: int) -> np.ndarray:
        n = self.num_clips
        if self.keep_tail_frames:
            avg = (num_frames - ori_clip_len + 1) / float(n)
            if num_frames > ori_clip_len - 1:
                return (np.arange(n) * avg + np.random.uniform(0, avg, n)).astype(np.int32)
            return np.zeros(n, dtype=np.int32)
        avg = (num_frames - ori_clip_len + 1) // n
        if avg > 0:
            return np.arange(n) * avg + np.random.randint(avg, size=n)
        if num_frames > max(n, ori_clip_len):
            return np.sort(np.random.randint(num_frames - ori_clip_len + 1, size=n))
        if avg == 0:
            return np.around(np.arange(n) * ((num_frames - ori_clip_len + 1.0) / n))
        return np.zeros(n, dtype=np.int32)

    def _test_offsets(self, num_frames: int, ori_clip_len: int) -> np.ndarray:
        if self.clip_len == 1:  # 2D recognizers: the middle of each segment
            avg = num_frames / float(self.num_clips)
            base = np.arange(self.num_clips) * avg
            offsets = base + avg / 2.0
            return np.concatenate([offsets, base]) if self.twice_sample else offsets
        max_offset = max(num_frames - ori_clip_len, 0)
        num_clips = self.num_clips * 2 if self.twice_sample else self.num_clips
        if num_clips > 1:
            return np.round(np.arange(num_clips) * (max_offset / float(self.num_clips - 1 or 1)))
        return np.array([max_offset // 2])

    def transform(self, results: dict) -> dict:
        total = int(results['total_frames'])
        if total < 1:
            raise DataError(f'SampleFrames: {results.get("filename", results.get("frame_dir", "the video"))} has '
                            f'no frames (total_frames={total}).')
        if self.test_mode:
            offsets = self._test_offsets(total, (self.clip_len - 1) * self.frame_interval + 1)
        else:
            offsets = self._train_offsets(total, self.clip_len * self.frame_interval)
        inds = (offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval).reshape(-1)
        if self.temporal_jitter:
            inds = inds + np.random.randint(self.frame_interval, size=len(inds))
        inds = inds.reshape(-1, self.clip_len)
        if self.out_of_bound_opt == 'loop':
            inds = np.mod(inds, total)
        else:
            safe = inds < total
            last = np.max(safe * inds, axis=1)
            inds = safe * inds + (~safe) * last[:, None]
        results['frame_inds'] = (inds.reshape(-1) + results.get('start_index', 0)).astype(np.int32)
        results['clip_len'], results['frame_interval'] = self.clip_len, self.frame_interval
        results['num_clips'] = self.num_clips
        return results


def _open_video(path: str):
    av = require('av', 'video', 'decoding videos')
    if not os.path.isfile(path):
        raise DataError(f'video file {path} does not exist; check data_root/data_prefix and the annotation file.')
    try:
        return av.open(path)
    except Exception as exc:  # PyAV raises its own error types (InvalidDataError, ...)
        raise DataError(f'cannot open video file {path}: {exc}') from None


@TRANSFORMS.register_module()
class PyAVInit(BaseTransform):
    """Count the frames of ``results['filename']`` with PyAV (MMAction2's ``PyAVInit``).

    Added Keys: ``total_frames`` (from the stream header; counted by decoding when the container
    does not record it).
    """

    def __init__(self, io_backend: str = 'disk', **kwargs):
        if io_backend != 'disk':
            raise ConfigError(f"PyAVInit io_backend={io_backend!r}: fovea reads videos from disk ('disk').")

    def transform(self, results: dict) -> dict:
        path = results['filename']
        with _open_video(path) as container:
            if not container.streams.video:
                raise DataError(f'video file {path} has no video stream.')
            total = container.streams.video[0].frames
            if not total:
                try:
                    total = sum(1 for _ in container.decode(video=0))
                except Exception as exc:
                    raise DataError(f'cannot decode video file {path}: {exc}') from None
        results['total_frames'] = int(total)
        return results


@TRANSFORMS.register_module()
class PyAVDecode(BaseTransform):
    """Decode the frames ``results['frame_inds']`` of ``results['filename']`` into ``results['img']``,
    a uint8 (V, C, H, W) RGB tensor in the order of ``frame_inds`` (MMAction2's ``PyAVDecode``,
    'accurate' mode: frames are decoded in order up to the last index needed).

    Required Keys: ``filename``, ``frame_inds``. Added Keys: ``img``, ``img_shape``, ``original_shape``.
    """

    def __init__(self, multi_thread: bool = False, mode: str = 'accurate'):
        if mode != 'accurate':
            raise ConfigError(f"PyAVDecode mode={mode!r}: fovea decodes in 'accurate' mode only.")
        self.multi_thread = multi_thread

    def transform(self, results: dict) -> dict:
        path, inds = results['filename'], [int(i) for i in results['frame_inds']]
        wanted, last = set(inds), max(inds)
        frames: dict[int, np.ndarray] = {}
        with _open_video(path) as container:
            stream = container.streams.video[0]
            if self.multi_thread:
                stream.thread_type = 'AUTO'
            try:
                for i, frame in enumerate(container.decode(stream)):
                    if i in wanted:
                        frames[i] = frame.to_ndarray(format='rgb24')
                    if i >= last:
                        break
            except Exception as exc:
                raise DataError(f'cannot decode video file {path}: {exc}') from None
        missing = sorted(wanted - frames.keys())
        if missing:
            raise DataError(f'video file {path} has {len(frames) and max(frames) + 1} decodable frames, but frames '
                            f'{missing[:5]} were asked for (total_frames={results.get("total_frames")}).')
        clip = torch.from_numpy(np.stack([frames[i] for i in inds])).permute(0, 3, 1, 2).contiguous()
        return _set_clip(results, clip)


@TRANSFORMS.register_module()
class RawFrameDecode(BaseTransform):
    """Read the frame images ``frame_dir/filename_tmpl.format(index)`` of ``results['frame_inds']``
    (plus the clip's ``offset``) into ``results['img']``, a uint8 (V, C, H, W) RGB tensor
    (MMAction2's ``RawFrameDecode``). Frames are decoded once even when an index repeats.
    """

    def __init__(self, io_backend: str = 'disk', **kwargs):
        if io_backend != 'disk':
            raise ConfigError(f"RawFrameDecode io_backend={io_backend!r}: fovea reads frames from disk ('disk').")

    def transform(self, results: dict) -> dict:
        tmpl, offset = results.get('filename_tmpl', 'img_{:05}.jpg'), int(results.get('offset', 0))
        cache: dict[int, torch.Tensor] = {}
        clip = []
        for i in results['frame_inds']:
            i = int(i) + offset
            if i not in cache:
                cache[i] = read_image(os.path.join(results['frame_dir'], tmpl.format(i)))
            clip.append(cache[i])
        shapes = {tuple(f.shape) for f in clip}
        if len(shapes) > 1:
            raise DataError(f'frames of {results["frame_dir"]} differ in size/channels: {sorted(shapes)}')
        return _set_clip(results, torch.stack(clip))


@TRANSFORMS.register_module()
class MultiScaleCrop(BaseTransform):
    """Crop every frame of the clip to one randomly chosen size and place (MMAction2's ``MultiScaleCrop``,
    TSN's corner cropping with scale jittering); resize afterwards (``Resize``).

    Crop sides are ``int(min(H, W) * s)`` for ``s`` in ``scales``, width and height chosen
    independently with scale levels at most ``max_wh_scale_gap`` apart; a side within 2 pixels of
    ``input_size`` snaps to it. The crop is placed at a random position (``random_crop``) or at one
    of 5 (corners and centre) or 13 fixed places (``num_fixed_crops``).

    Required Keys: ``img``. Modified Keys: ``img``, ``img_shape``. Added Keys: ``crop_bbox``
    (x1, y1, x2, y2), ``scales``.

    Args:
        input_size: (w, h) or int, the network input size (for the snapping rule).
        scales: relative crop sides (tuple).
        max_wh_scale_gap: largest gap between the width's and height's scale levels.
        random_crop: random placement instead of fixed places.
        num_fixed_crops: 5 or 13.
        lazy: not supported (MMAction2's fused cropping).
    """

    def __init__(self, input_size: int | Sequence[int], scales: Sequence[float] = (1,), max_wh_scale_gap: int = 1,
                 random_crop: bool = False, num_fixed_crops: int = 5, lazy: bool = False):
        self.input_size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if len(self.input_size) != 2 or not all(isinstance(v, int) for v in self.input_size):
            raise ConfigError(f'MultiScaleCrop input_size must be an int or (w, h) ints, got {input_size!r}')
        if not isinstance(scales, (tuple, list)) or not scales:
            raise ConfigError(f'MultiScaleCrop scales must be a tuple of floats, got {scales!r}')
        if num_fixed_crops not in (5, 13):
            raise ConfigError(f'MultiScaleCrop num_fixed_crops must be 5 or 13, got {num_fixed_crops}')
        if lazy:
            raise ConfigError('MultiScaleCrop lazy=True is not implemented in fovea; crops are applied at once.')
        self.scales, self.max_wh_scale_gap = tuple(scales), max_wh_scale_gap
        self.random_crop, self.num_fixed_crops = random_crop, num_fixed_crops

    def _offsets(self, w_step: int, h_step: int) -> list[tuple[int, int]]:
        places = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
        if self.num_fixed_crops == 13:
            places += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
        return [(a * w_step, b * h_step) for a, b in places]

    def transform(self, results: dict) -> dict:
        img = results['img']
        img_h, img_w = img.shape[-2:]
        sides = [int(min(img_h, img_w) * s) for s in self.scales]
        candidates = [[w, h] for i, h in enumerate(sides) for j, w in enumerate(sides)
                      if abs(i - j) <= self.max_wh_scale_gap]
        crop = random.choice(candidates)
        for i in range(2):
            if abs(crop[i] - self.input_size[i]) < 3:
                crop[i] = self.input_size[i]
        crop_w, crop_h = min(crop[0], img_w), min(crop[1], img_h)
        if self.random_crop:
            x, y = random.randint(0, img_w - crop_w), random.randint(0, img_h - crop_h)
        else:
            x, y = random.choice(self._offsets((img_w - crop_w) // 4, (img_h - crop_h) // 4))
        results['img'] = img[..., y:y + crop_h, x:x + crop_w]
        results['img_shape'] = (crop_h, crop_w)
        results['crop_bbox'] = np.array([x, y, x + crop_w, y + crop_h])
        results['scales'] = self.scales
        return results

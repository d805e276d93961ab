"""Synthetic videos for the video tests: a square moving left or right over a noisy background.

A left-moving clip is the time reverse of a right-moving one with another start, and the start is
uniform over the positions that keep the square inside, so the frames of the two classes, taken as
a set, have the same distribution: only their order tells the direction. The clips are encoded
losslessly (x264 on RGB, qp 0): lossy coding leaves artifacts that trail the moving square or change
with the frame's place in the clip, which would give the direction away in single frames.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ('left', 'right')


def motion_clip(direction: int, rng: np.random.Generator, frames: int = 8, height: int = 32, width: int = 32,
                speed: int = 2, side: int = 8) -> np.ndarray:
    """(frames, height, width, 3) uint8 RGB; direction 0 = left, 1 = right."""
    travel = speed * (frames - 1)
    if travel + side > width:
        raise ValueError(f'a {side} px square moving {travel} px does not fit in {width} px')
    x0 = int(rng.integers(0, width - side - travel + 1))
    y0 = int(rng.integers(0, height - side + 1))
    color = rng.integers(100, 256, 3)
    background = rng.integers(0, 60, (height, width, 3))
    clip = np.repeat(background[None], frames, 0)
    for t in range(frames):
        x = x0 + speed * t if direction == 1 else x0 + travel - speed * t
        clip[t, y0:y0 + side, x:x + side] = color
    return clip.astype(np.uint8)


def write_video(path: Path, clip: np.ndarray, codec: str = 'libx264rgb', fps: int = 8) -> Path:
    """Encode (T, H, W, 3) uint8 RGB frames with PyAV."""
    import av
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), 'w') as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = clip.shape[1:3]
        stream.pix_fmt = {'libx264rgb': 'rgb24', 'ffv1': 'yuv444p'}.get(codec, 'yuv420p')
        if codec == 'libx264rgb':
            stream.options = {'qp': '0'}  # lossless (see the module docstring)
        for frame in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_motion_folder(root: Path, per_class: int, seed: int, **clip_kwargs) -> Path:
    """``root/<left|right>/<i>.mp4`` clips (VideoDataset's class-folder layout)."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(CLASSES):
        for i in range(per_class):
            write_video(root / name / f'{i:03d}.mp4', motion_clip(label, rng, **clip_kwargs))
    return root

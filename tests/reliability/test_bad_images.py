"""Bad and unusual image files through LoadImageFromFile: each either loads as the right uint8 RGB
(C, H, W) tensor or fails with a DataError naming the file; a worker crashing on a sample names it."""
from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fovea.data.transforms.loading import LoadImageFromFile
from fovea.utils.errors import DataError

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (12, 20, 3), dtype=np.uint8)   # H=12, W=20


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def _load(path: Path, **kw) -> torch.Tensor:
    out = LoadImageFromFile(**kw)({'img_path': str(path)})
    img = out['img']
    assert img.dtype == torch.uint8 and img.ndim == 3 and out['img_shape'] == tuple(img.shape[-2:])
    return img


def test_plain_and_odd_formats_decode_to_rgb(tmp_path):
    rgb = Image.fromarray(RGB)
    want = torch.from_numpy(RGB).permute(2, 0, 1)
    # lossless PNG round trip
    assert torch.equal(_load(_save(rgb, tmp_path / 'a.png')), want)
    # PNG with alpha: alpha dropped, colour kept
    rgba = Image.fromarray(np.dstack([RGB, RNG.integers(0, 256, (12, 20), dtype=np.uint8)]))
    assert torch.equal(_load(_save(rgba, tmp_path / 'alpha.png')), want)
    # palette PNG: expanded to the palette colours
    pal = rgb.quantize(colors=16)
    assert torch.equal(_load(_save(pal, tmp_path / 'pal.png')), torch.from_numpy(np.array(pal.convert('RGB'))).permute(2, 0, 1))
    # 16-bit greyscale PNG: top 8 bits, repeated to 3 channels
    g16 = (RNG.integers(0, 65536, (12, 20))).astype(np.uint16)
    img16 = _load(_save(Image.fromarray(g16), tmp_path / 'g16.png'))
    assert img16.shape == (3, 12, 20) and torch.equal(img16[0], torch.from_numpy((g16 >> 8).astype(np.uint8)))
    # greyscale JPEG: 3 channels by default, 1 with color_type='grayscale'
    grey = _save(rgb.convert('L'), tmp_path / 'grey.jpg', quality=95)
    assert _load(grey).shape == (3, 12, 20) and _load(grey, color_type='grayscale').shape == (1, 12, 20)
    # CMYK JPEG (torchvision refuses it; Pillow converts): close to the original colours
    cmyk = _load(_save(rgb.convert('CMYK'), tmp_path / 'cmyk.jpg', quality=98))
    assert cmyk.shape == (3, 12, 20) and (cmyk.float() - want.float()).abs().mean() < 12
    # wrong extension: a PNG named .jpg and a JPEG named .png are recognised by content
    assert torch.equal(_load(_save(rgb, tmp_path / 'png_named.jpg', format='PNG')), want)
    assert _load(_save(rgb, tmp_path / 'jpeg_named.png', format='JPEG')).shape == (3, 12, 20)


def test_exif_orientation_is_honoured(tmp_path):
    rgb = Image.fromarray(RGB)
    exif = rgb.getexif()
    exif[0x0112] = 6                     # "rotate 90 CW to display"
    p = _save(rgb, tmp_path / 'rot.jpg', exif=exif, quality=95)
    assert _load(p).shape == (3, 20, 12)                         # displayed upright: H and W swap
    assert _load(p, color_type='color_ignore_orientation').shape == (3, 12, 20)
    exif[0x0112] = 3                     # 180 degrees: the first row ends up last, reversed
    p = _save(rgb, tmp_path / 'rot180.png', exif=exif)
    assert torch.equal(_load(p), torch.from_numpy(RGB[::-1, ::-1].copy()).permute(2, 0, 1))


def test_broken_files_name_the_file(tmp_path):
    jpeg = io.BytesIO()
    Image.fromarray(RGB).save(jpeg, 'JPEG')
    cases = {'empty.jpg': b'', 'truncated.jpg': jpeg.getvalue()[:40], 'text.png': b'this is not an image\n',
             'random.jpg': RNG.integers(0, 256, 500, dtype=np.uint8).tobytes()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError) as exc:
            _load(tmp_path / name)
        assert str(tmp_path / name) in str(exc.value)
    with pytest.raises(DataError, match='does not exist'):
        _load(tmp_path / 'missing.jpg')


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (one zlib stream of zeros that would inflate to w*h*3 bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b'\0' * (1 + 3 * w)
    body = b''.join(comp.compress(row) for _ in range(min(h, 64))) + comp.flush()
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', body) + chunk(b'IEND', b'')


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = tmp_path / 'bomb.png'
    p.write_bytes(_png_header_only(50_000, 50_000))          # 2.5 gigapixels, a few kB on disk
    assert p.stat().st_size < 100_000
    with pytest.raises(DataError, match=r'50000x50000 = 2,500,000,000 pixels, more than max_pixels=178,956,970'):
        _load(p)
    # the limit is configurable: a 20x12 image passes 240 but not 239
    small = _save(Image.fromarray(RGB), tmp_path / 'small.png')
    assert _load(small, max_pixels=240).shape == (3, 12, 20)
    with pytest.raises(DataError, match='max_pixels=239'):
        _load(small, max_pixels=239)


def test_worker_crash_reports_the_sample_path(tmp_path):
    """A sample that fails inside a DataLoader worker: the error the main process sees names its file."""
    from fovea.data.loader import build_dataloader
    root = tmp_path / 'data'
    for cls in ('a', 'b'):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            _save(Image.fromarray(RGB), root / cls / f'{i}.png')
    bad = root / 'b' / '1.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    loader = build_dataloader(dict(
        batch_size=2, num_workers=2, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CustomDataset', data_prefix=str(root),
                     pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])), seed=0)
    with pytest.raises(Exception) as exc:
        for _ in loader:
            pass
    assert str(bad) in str(exc.value), str(exc.value)[-2000:]


def test_worker_killed_while_loading_names_the_sample(tmp_path):
    """A worker that dies outright (SIGKILL, as in a decoder segfault or the OOM killer) during
    training: the error names the file it was loading, not just the worker's pid."""
    from _faults import tiny_options
    from fovea.config import Config
    from fovea.engine.runner import Runner
    root = tmp_path / 'digits'
    for cls in range(10):
        (root / str(cls)).mkdir(parents=True)
        for i in range(2):
            _save(Image.fromarray(RNG.integers(0, 256, (32, 32), dtype=np.uint8)), root / str(cls) / f'{i}.png')
    dataset = dict(_delete_=True, type='CustomDataset', data_prefix=str(root), pipeline=[
        dict(type='LoadImageFromFile', color_type='grayscale'), dict(type='_faults.CrashOn', name='7/1.png'),
        dict(type='PackInputs')])
    cfg = Config.fromfile('lenet5_digits', [*tiny_options(tmp_path / 'work', epochs=1), 'train_dataloader.num_workers=2',
                                            'train_dataloader.batch_size=4', f'train_dataloader.dataset={dataset!r}'])
    with pytest.raises(DataError, match=r'worker process died .* while loading sample \d+ \(.*7/1\.png\)'):
        Runner.from_cfg(cfg).train()


def test_a_failed_run_leaves_no_workers_behind(tmp_path):
    """The run fails (here a hook raises) with persistent workers: its own error is the one the user
    sees, and its workers are shut down with it, so none is left for the OOM killer (or anything else)
    to kill while the program handles the error (torch's SIGCHLD handler would then raise a raw
    "DataLoader worker (pid N) is killed by signal" wherever the main process is)."""
    from _faults import fault_hook_option, tiny_options
    from fovea.config import Config
    from fovea.engine.runner import Runner
    cfg = Config.fromfile('lenet5_digits', [*tiny_options(tmp_path / 'work', epochs=1), 'train_dataloader.num_workers=2',
                                            'train_dataloader.persistent_workers=True',
                                            fault_hook_option(marker_dir=str(tmp_path), raise_iter=2)])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='injected failure'):
        runner.train()
    pids = [p for p in runner.train_dataloader._fovea_pids.tolist() if p]
    assert len(pids) == 2
    for _ in range(40):   # shut down with the run: gone (or reaped) at once
        if not any(_alive(p) for p in pids):
            break
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), 'the failed run left its workers running'
    assert runner.train_dataloader._iterator is None


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in 'ZX'
    except OSError:
        return False

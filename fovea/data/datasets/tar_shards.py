"""TarShardDataset: stream samples from tar shards in WebDataset layout, split over ranks and workers.

A shard is a plain tar file whose members are grouped into samples by key: ``0001.jpg``,
``0001.cls``, ``0002.jpg``, ``0002.cls`` ... (the key is the member path up to the first dot of
its file name; the rest is the field name). This is the layout of the ``webdataset`` package and
of ``tar --sort=name``; reading it needs only :mod:`tarfile`, sequentially, so shards can sit on
network storage or be piped in from object stores.

Each (rank, worker) pair reads its own subset of shards (``shards[i::n]``); when there are fewer
shards than readers, every reader scans all shards and keeps every n-th sample, so each sample
is still read by exactly one reader per epoch.
"""
from __future__ import annotations

import contextlib
import glob
import io
import json
import logging
import math
import os
import re
import shlex
import subprocess
import tarfile
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from fovea.data.transforms.base import Compose
from fovea.registry import DATASETS
from fovea.utils.dist import get_dist_info
from fovea.utils.errors import ConfigError, DataError

__all__ = ['TarShardDataset', 'expand_shards', 'write_tar_shards']

logger = logging.getLogger('fovea')

_BRACE = re.compile(r'\{(\d+)\.\.(\d+)\}')
_KEY = re.compile(r'^((?:.*/|)[^./]+)\.([^/]*)$')


def expand_shards(spec: str | Sequence[str], root: str = '') -> list[str]:
    """Shard paths from a list, a glob (``*.tar``) or WebDataset brace ranges (``s-{000..099}.tar``)."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for s in specs:
        remote = '://' in s or s.startswith('pipe:')
        s = os.path.join(root, s) if root and not os.path.isabs(s) and not remote else s
        m = _BRACE.search(s)
        if m:
            lo, hi = m.group(1), m.group(2)
            width = len(lo)
            for i in range(int(lo), int(hi) + 1):
                out.extend(expand_shards(s[:m.start()] + str(i).zfill(width) + s[m.end():]))
        elif not remote and any(c in s for c in '*?['):
            found = sorted(glob.glob(s))
            if not found:
                raise DataError(f'no shard files match {s!r}')
            out.extend(found)
        else:
            out.append(s)
    return out


@contextlib.contextmanager
def _open_stream(path: str) -> Iterator[Any]:
    """A readable byte stream for a shard: a local file, an ``http(s)://`` URL, or ``pipe:<command>``
    (the command's standard output, e.g. ``pipe:aws s3 cp s3://bucket/shard-000.tar -``)."""
    if path.startswith('pipe:'):
        proc = subprocess.Popen(shlex.split(path[5:]), stdout=subprocess.PIPE)
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            if proc.wait() != 0:
                raise DataError(f'shard command {path[5:]!r} failed with exit status {proc.returncode}')
    elif path.startswith(('http://', 'https://')):
        import urllib.request
        with urllib.request.urlopen(path, timeout=60) as resp:
            yield resp
    else:
        with open(path, 'rb') as f:
            yield f


def _iter_tar_samples(path: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {field: bytes}) for consecutive members of ``path`` that share a key."""
    key, fields = None, {}
    try:
        with _open_stream(path) as stream, tarfile.open(fileobj=stream, mode='r|*') as tar:
            for member in tar:
                if not member.isfile():
                    continue
                m = _KEY.match(member.name)
                if not m:
                    continue
                k, field = m.group(1), m.group(2).lower()
                if key is not None and k != key:
                    yield key, fields
                    fields = {}
                key = k
                f = tar.extractfile(member)
                fields[field] = f.read() if f is not None else b''
    except FileNotFoundError:
        raise DataError(f'shard {path} does not exist') from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f'shard {path} is not a readable tar file (after key {key!r}): {exc}') from None
    if key is not None:
        yield key, fields


@DATASETS.register_module()
class TarShardDataset(IterableDataset):
    """Samples streamed from tar shards (WebDataset layout), for data too big for one disk or machine.

    Args:
        shards: shard paths, a glob or a brace range (``'train-{000000..001023}.tar'``),
            relative to ``data_root``; ``http(s)://`` URLs and ``pipe:<command>`` (read the
            command's output, e.g. from an object store client) stream shards from elsewhere.
        pipeline: transforms; start with ``LoadImageFromFile``, which decodes the image bytes.
        image_keys: fields tried, in order, for the image.
        label_key: field holding the label: ``'cls'`` (an ASCII integer) or ``'json'``
            (``{"label": 3}`` / ``{"gt_label": 3}``). Ignored with ``with_label=False``.
        text_key: field holding a caption (``'txt'``, UTF-8) copied to the sample's ``text`` (image-text
            pairs for CLIP; pack it with ``PackInputs(algorithm_keys=['text'])``), or None.
        shuffle: shuffle the shard order per epoch and samples through a buffer of ``shuffle_buffer``.
        seed: base seed of the shuffles (the epoch is added; see :meth:`set_epoch`).
        length: total number of samples, if known (gives ``len()`` per rank for epoch-based loops).
        skip_bad_samples: log and skip undecodable samples instead of raising.
    """

    def __init__(self, shards: str | Sequence[str], pipeline: Sequence[dict | Callable] = (), data_root: str = '',
                 metainfo: dict | None = None, classes: Sequence[str] | None = None,
                 image_keys: Sequence[str] = ('jpg', 'jpeg', 'png', 'webp', 'bmp', 'ppm', 'tif', 'tiff'),
                 label_key: str = 'cls', with_label: bool = True, shuffle: bool = False, shuffle_buffer: int = 1000,
                 seed: int | None = None, length: int | None = None, skip_bad_samples: bool = False,
                 test_mode: bool = False, text_key: str | None = None):
        self.text_key = text_key
        self.shards = expand_shards(shards, data_root)
        if not self.shards:
            raise ConfigError('TarShardDataset got no shards')
        self.pipeline = Compose(pipeline)
        self._metainfo = dict(metainfo or {})
        if classes is not None:
            self._metainfo['classes'] = tuple(classes)
        self.image_keys = tuple(image_keys)
        self.label_key = label_key
        self.with_label = with_label
        self.shuffle = shuffle
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        self.seed = 0 if seed is None else int(seed)
        self.length = length
        self.skip_bad_samples = skip_bad_samples
        self.test_mode = test_mode
        self.epoch = 0
        self.bad_samples = 0

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    @property
    def CLASSES(self):
        c = self._metainfo.get('classes')
        return tuple(c) if c is not None else None

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (persistent workers advance their own copy after each pass)."""
        self.epoch = epoch

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError('TarShardDataset has no length; pass length=<number of samples> for epoch-based '
                            'training, or use an iteration-based loop.')
        return math.ceil(self.length / get_dist_info()[1])

    def _reader(self) -> tuple[int, int]:
        rank, world = get_dist_info()
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * nw + wid, world * nw

    def _label(self, key: str, fields: dict[str, bytes], where: str) -> int | None:
        if not self.with_label:
            return None
        raw = fields.get(self.label_key)
        if raw is None:
            raise DataError(f'{where}: sample {key!r} has no {self.label_key!r} field (fields: {sorted(fields)}); '
                            f'set label_key, or with_label=False for unlabelled data.')
        try:
            if self.label_key == 'json':
                obj = json.loads(raw)
                return int(obj['label'] if 'label' in obj else obj['gt_label'])
            return int(raw.decode('ascii').strip())
        except (ValueError, KeyError, UnicodeDecodeError, TypeError):
            raise DataError(f'{where}: sample {key!r} has an unreadable label {raw[:40]!r}') from None

    def _raw_samples(self, shards: list[str], gid: int, nreaders: int, per_sample_split: bool
                     ) -> Iterator[dict]:
        count = 0
        for shard in shards:
            for key, fields in _iter_tar_samples(shard):
                if per_sample_split:
                    count += 1
                    if (count - 1) % nreaders != gid:
                        continue
                img_field = next((k for k in self.image_keys if k in fields), None)
                where = f'{shard}:{key}'
                if img_field is None:
                    raise DataError(f'{where}: no image field among {self.image_keys} (fields: {sorted(fields)})')
                info: dict[str, Any] = {'img_bytes': fields[img_field], 'img_path': f'{shard}/{key}.{img_field}',
                                        '__key__': key}
                label = self._label(key, fields, where)
                if label is not None:
                    n = len(self._metainfo.get('classes', ()))
                    if n and not 0 <= label < n:
                        raise DataError(f'{where}: label {label} is outside the {n} classes (0..{n - 1})')
                    info['gt_label'] = label
                if self.text_key is not None:
                    if self.text_key not in fields:
                        raise DataError(f'{where}: sample {key!r} has no {self.text_key!r} caption field (fields: '
                                        f'{sorted(fields)}); set text_key to the field holding the text.')
                    info['text'] = fields[self.text_key].decode('utf-8', errors='replace').strip()
                yield info

    def __iter__(self) -> Iterator[Any]:
        gid, nreaders = self._reader()
        shards = list(self.shards)
        rng = np.random.default_rng(self.seed + self.epoch)
        if self.shuffle:
            rng.shuffle(shards)
        per_sample = len(shards) < nreaders
        mine = shards if per_sample else shards[gid::nreaders]
        stream = self._raw_samples(mine, gid, nreaders, per_sample)
        if self.shuffle:
            stream = self._buffer_shuffle(stream, np.random.default_rng((self.seed + self.epoch) * 1000003 + gid))
        self.epoch += 1
        for idx, info in enumerate(stream):
            info['sample_idx'] = idx
            try:
                out = self.pipeline(info)
            except DataError as exc:
                if not self.skip_bad_samples:
                    raise DataError(f'{info["img_path"]}: {exc}') from None
                self.bad_samples += 1
                logger.warning('skipping a bad sample (%d skipped so far in this reader): %s: %s',
                               self.bad_samples, info['img_path'], exc)
                continue
            if out is not None:
                yield out

    def _buffer_shuffle(self, stream: Iterator[dict], rng: np.random.Generator) -> Iterator[dict]:
        buf: list[dict] = []
        for item in stream:
            if len(buf) < self.shuffle_buffer:
                buf.append(item)
                continue
            j = int(rng.integers(len(buf)))
            buf[j], item = item, buf[j]
            yield item
        rng.shuffle(buf)
        yield from buf


def write_tar_shards(samples: Iterator[tuple[str, bytes, int | None]], pattern: str, maxcount: int = 10000,
                     image_ext: str = 'jpg') -> list[str]:
    """Write ``(key, image_bytes, label)`` samples into shards named ``pattern % shard_index``.

    E.g. ``write_tar_shards(((f'{i:08d}', open(p, 'rb').read(), y) for i, (p, y) in ...),
    'out/train-%06d.tar')``. Returns the shard paths.
    """
    paths: list[str] = []
    tar = None
    n = 0
    try:
        for key, data, label in samples:
            if tar is None or n >= maxcount:
                if tar is not None:
                    tar.close()
                paths.append(pattern % len(paths))
                os.makedirs(os.path.dirname(os.path.abspath(paths[-1])), exist_ok=True)
                tar = tarfile.open(paths[-1], 'w')
                n = 0
            members = [(f'{key}.{image_ext}', data)]
            if label is not None:
                members.append((f'{key}.cls', str(int(label)).encode()))
            for name, payload in members:
                ti = tarfile.TarInfo(name)
                ti.size = len(payload)
                tar.addfile(ti, io.BytesIO(payload))
            n += 1
    finally:
        if tar is not None:
            tar.close()
    return paths


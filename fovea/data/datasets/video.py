"""Video datasets (MMAction2's ``VideoDataset`` and ``RawframeDataset`` annotation formats).

* :class:`VideoDataset`: one ``relative/path.mp4 label`` line per video, or (no ``ann_file``) a
  folder of class folders ``data_prefix/<class>/**/<video>``; the video is decoded by the pipeline
  (``PyAVInit`` -> ``SampleFrames`` -> ``PyAVDecode``).
* :class:`RawframeDataset`: one ``frame_dir total_frames label`` line per video (``frame_dir offset
  total_frames label`` with ``with_offset=True``), frames stored as images named by ``filename_tmpl``
  (``img_00001.jpg`` ...), read by ``RawFrameDecode``.

Samples carry ``filename`` or ``frame_dir``, ``total_frames`` (frame folders), ``start_index`` (0 for
videos, 1 for frame folders, as MMAction2) and ``gt_label``.
"""
from __future__ import annotations

import os

from fovea.data.datasets.base import BaseDataset, PathLabelList
from fovea.data.datasets.custom import check_inside_root, find_folders, parse_ann_file, scan_files
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['VideoDataset', 'RawframeDataset', 'VIDEO_EXTENSIONS']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.mpg', '.mpeg', '.flv', '.wmv')


def _prefix(data_prefix, key: str) -> str | dict:
    """MMAction2 writes ``data_prefix=dict(video=...)`` / ``dict(img=...)``; fovea's base takes a path."""
    if isinstance(data_prefix, dict):
        return data_prefix.get(key, data_prefix.get('img', data_prefix.get('img_path', '')))
    return data_prefix


def _check_modality(name: str, modality: str, multi_class: bool) -> None:
    if modality != 'RGB':
        raise ConfigError(f"{name}: modality={modality!r} is not implemented in fovea; use 'RGB'.")
    if multi_class:
        raise ConfigError(f'{name}: multi_class is not implemented in fovea; use one label per video.')


@DATASETS.register_module()
class VideoDataset(BaseDataset):
    """Videos listed in an annotation file of ``path label`` lines (MMAction2's ``VideoDataset``), or
    found in class folders.

    Args:
        ann_file: the annotation file (relative to ``data_root``); empty: ``data_prefix`` holds one
            folder per class (sorted names are the classes, unless ``classes``/``metainfo`` say them)
            with the videos (``extensions``) anywhere below.
        data_prefix: folder of the videos (``dict(video=...)`` or a path).
        extensions: video file endings looked for in class folders.
        start_index: index of the first frame (0).
        Other arguments: see :class:`~fovea.data.datasets.base.BaseDataset`.
    """

    def __init__(self, ann_file: str = '', pipeline=(), data_prefix: str | dict = '', start_index: int = 0,
                 modality: str = 'RGB', multi_class: bool = False, num_classes: int | None = None,
                 delimiter: str = ' ', extensions=VIDEO_EXTENSIONS, **kwargs):
        _check_modality(type(self).__name__, modality, multi_class)
        if delimiter != ' ':
            raise ConfigError(f'VideoDataset delimiter={delimiter!r}: fovea reads space-separated '
                              f'"path label" lines.')
        self.start_index, self.extensions = start_index, tuple(extensions)
        super().__init__(ann_file=ann_file, pipeline=pipeline, data_prefix=_prefix(data_prefix, 'video'), **kwargs)

    def load_data_list(self) -> PathLabelList:
        if self.ann_file:
            paths, labels = parse_ann_file(self.ann_file)
            check_inside_root(paths, self.ann_file)
            return PathLabelList(paths, labels, prefix=self.data_prefix)
        folders = find_folders(self.data_prefix)
        classes = self._metainfo.get('classes')
        if classes is None:
            classes = self._metainfo['classes'] = tuple(folders)
        elif sorted(classes) != folders:
            raise DataError(f'VideoDataset: the class folders of {self.data_prefix} are {folders}, but the classes '
                            f'given are {list(classes)}; they must name the same folders.')
        paths, labels = [], []
        for label, name in enumerate(classes):
            for rel in scan_files(os.path.join(self.data_prefix, name), self.extensions):
                paths.append(f'{name}/{rel}')
                labels.append(label)
        if not paths:
            raise DataError(f'VideoDataset: no videos ({", ".join(self.extensions)}) in the class folders of '
                            f'{self.data_prefix}.')
        return PathLabelList(paths, labels, prefix=self.data_prefix)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['filename'] = info['img_path']
        info['start_index'] = self.start_index
        info['modality'] = 'RGB'
        return info


@DATASETS.register_module()
class RawframeDataset(BaseDataset):
    """Frame folders listed as ``frame_dir total_frames label`` lines (MMAction2's ``RawframeDataset``).

    Args:
        ann_file: the annotation file (relative to ``data_root``).
        data_prefix: folder holding the frame folders (``dict(img=...)`` or a path).
        filename_tmpl: frame file names, formatted with the frame index (``img_{:05}.jpg``).
        with_offset: lines are ``frame_dir offset total_frames label`` (clips of longer videos).
        start_index: index of the first frame file (1, MMAction2's default for frame folders).
    """

    def __init__(self, ann_file: str, pipeline=(), data_prefix: str | dict = '', filename_tmpl: str = 'img_{:05}.jpg',
                 with_offset: bool = False, multi_class: bool = False, num_classes: int | None = None,
                 start_index: int = 1, modality: str = 'RGB', **kwargs):
        _check_modality(type(self).__name__, modality, multi_class)
        self.filename_tmpl, self.with_offset, self.start_index = filename_tmpl, with_offset, start_index
        super().__init__(ann_file=ann_file, pipeline=pipeline, data_prefix=_prefix(data_prefix, 'img'), **kwargs)

    def load_data_list(self) -> list[dict]:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            raise DataError(f'annotation file {self.ann_file} does not exist; check data_root and ann_file.') from None
        fields = 4 if self.with_offset else 3
        form = 'frame_dir offset total_frames label' if self.with_offset else 'frame_dir total_frames label'
        out = []
        for no, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != fields:
                raise DataError(f'{self.ann_file}, line {no}: expected "{form}", got {line!r}'
                                + (' (set with_offset=True for offset lines)' if len(parts) == 4 else ''))
            try:
                numbers = [int(p) for p in parts[1:]]
            except ValueError:
                raise DataError(f'{self.ann_file}, line {no}: "{form}" needs integers after the folder, '
                                f'got {line!r}') from None
            check_inside_root([parts[0].encode()], self.ann_file)
            info = dict(frame_dir=os.path.join(self.data_prefix, parts[0]) if self.data_prefix else parts[0],
                        total_frames=numbers[-2], gt_label=numbers[-1])
            if self.with_offset:
                info['offset'] = numbers[0]
            out.append(info)
        return out

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.update(filename_tmpl=self.filename_tmpl, start_index=self.start_index, modality='RGB')
        return info

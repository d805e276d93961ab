"""CustomDataset: images in class folders, or listed in an annotation file (MMPretrain's layouts).

Class-folder layout (``data_prefix/<class>/**/<image>``): classes are the sorted sub-folder
names (or ``classes``/``metainfo`` when given, which must match the folders in number), files
are found recursively and filtered by extension, in sorted order. Annotation-file layout:
one ``relative/path.jpg label`` line per sample (the label is the last space-separated
field, so paths may contain spaces), or just paths with ``with_label=False``.

Index building is the cost that matters on ImageNet-sized sets: folders are walked with
``os.scandir`` (one ``stat``-free system call per directory) and annotation files are parsed
in one pass over the bytes; the result is a :class:`PathLabelList` (two NumPy arrays), not a
list of dicts. 1.3M entries take about a second (``benchmarks/dataset_index.py``).
"""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from fovea.data.datasets.base import BaseDataset, PathLabelList
from fovea.registry import DATASETS
from fovea.utils.errors import DataError

__all__ = ['CustomDataset', 'IMG_EXTENSIONS', 'find_folders', 'scan_files', 'parse_ann_file', 'check_inside_root']

logger = logging.getLogger('fovea')

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


def find_folders(root: str) -> list[str]:
    """Sorted names of the sub-folders of ``root`` (the classes of a class-folder layout)."""
    if not os.path.isdir(root):
        raise DataError(f'data folder {root!r} does not exist; check data_root and data_prefix.')
    with os.scandir(root) as it:
        return sorted(e.name for e in it if e.is_dir(follow_symlinks=True) and not e.name.startswith('.'))


def scan_files(root: str, extensions: Sequence[str] | None = None) -> list[str]:
    """Relative paths (with '/') of the files under ``root``, recursively, sorted, filtered by extension.

    Hidden files and folders (starting with '.') are skipped.
    """
    exts = tuple(e.lower() for e in extensions) if extensions else None
    out: list[str] = []
    stack = [('', root)]
    while stack:
        rel, path = stack.pop()
        try:
            it = os.scandir(path)
        except OSError as exc:
            raise DataError(f'cannot list folder {path}: {exc}') from None
        with it:
            for e in it:
                name = e.name
                if name[0] == '.':
                    continue
                if e.is_dir(follow_symlinks=True):
                    stack.append((rel + name + '/', e.path))
                elif exts is None or name.lower().endswith(exts):
                    out.append(rel + name)
    out.sort()
    return out


def _one_separator_per_line(raw: bytes) -> bool:
    """Whether every line holds exactly one space and no other whitespace but its line end (so
    its two tokens are its own: the token count alone could pair the fields of a 3-field line
    with those of a 1-field line). Tabs and stray carriage returns take the slow path."""
    if b'\t' in raw or b'\x0b' in raw or b'\x0c' in raw or raw.count(b'\r') != raw.count(b'\r\n'):
        return False
    a = np.frombuffer(raw, dtype=np.uint8)
    spaces = np.flatnonzero(a == 32)
    newlines = np.flatnonzero(a == 10)
    n_lines = len(newlines) + (not raw.endswith(b'\n'))
    if len(spaces) != n_lines:
        return False
    m = min(len(newlines), n_lines)  # space i lies between newline i-1 and newline i
    return bool((spaces[:m] < newlines[:m]).all() and (spaces[1:] > newlines[:n_lines - 1]).all())


def check_inside_root(paths: list[bytes], ann_file: str) -> None:
    """Refuse annotation paths that are absolute or climb out of the image folder with ``..``."""
    joined = b'\n' + b'\n'.join(paths)
    if b'..' not in joined and b'\n/' not in joined and b'\\' not in joined and b':' not in joined:
        return  # the common case, checked at C speed
    for p in paths:
        text = p.decode('utf-8', 'replace').replace('\\', '/')
        norm = os.path.normpath(text)
        if os.path.isabs(text) or norm == '..' or norm.startswith('../') or (len(text) > 2 and text[0].isalpha() and text[1:3] == ':/'):
            with open(ann_file, 'rb') as f:
                line = next((no for no, ln in enumerate(f, 1) if ln.strip().startswith(p)), '?')
            raise DataError(f'{ann_file}, line {line}: the image path {text!r} points outside the image folder '
                            f'(absolute or climbing out with ..). Fix the annotation file, or set '
                            f'allow_outside_root=True on the dataset if it is trusted.')


def parse_ann_file(path: str, with_label: bool = True) -> tuple[list[bytes], np.ndarray | None]:
    """Parse a ``path label`` (or ``path``) annotation file; blank lines are ignored.

    Returns the relative paths as UTF-8 bytes and the labels as an int64 array. The common case
    (no spaces in paths) is split in C in one pass; otherwise lines are split at their last space.
    Raises :class:`DataError` naming the file and the line number of a line that does not parse.
    """
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f'annotation file {path} does not exist; check data_root and ann_file.') from None
    try:
        raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b'\n') + 1
        raise DataError(f'{path}, line {line}: not valid UTF-8 text ({exc.reason}); is this an annotation '
                        f'file?') from None
    if not with_label:
        return [ln.strip() for ln in raw.splitlines() if ln.strip()], None
    tokens = raw.split()
    # newline count, +1 for a missing final newline; blank lines make this differ (then: slow path)
    n_lines = raw.count(b'\n') + (not raw.endswith(b'\n'))
    if n_lines * 2 == len(tokens) and b'\n\n' not in raw and _one_separator_per_line(raw):
        # fast path: "path label", no spaces in paths
        try:
            return tokens[0::2], np.array(tokens[1::2]).astype(np.int64)
        except (ValueError, OverflowError):
            pass  # a label that is not an integer (or too large): find the line below
    paths: list[bytes] = []
    labels: list[int] = []
    for no, ln in enumerate(raw.splitlines(), 1):
        s = ln.strip()
        if not s:
            continue
        p, sep, lab = s.rpartition(b' ')
        if not sep:
            p, sep, lab = s.rpartition(b'\t')
        try:
            value = int(lab)
        except ValueError:
            value = None
        if value is None or not p.strip() or not -2**63 <= value < 2**63:
            text = s.decode('utf-8', 'replace')[:120]
            raise DataError(f'{path}, line {no}: cannot parse {text!r}; expected "relative/path.jpg '
                            f'<integer label>" (or set with_label=False for a list of paths only).')
        paths.append(p.rstrip())
        labels.append(value)
    return paths, np.asarray(labels, dtype=np.int64)


@DATASETS.register_module()
class CustomDataset(BaseDataset):
    """A dataset of image files: class folders or an annotation file (MMPretrain's CustomDataset).

    Args:
        data_root: root joined to ``data_prefix`` and ``ann_file``.
        data_prefix: folder of the images (str or ``dict(img_path=...)``).
        ann_file: annotation file; without it the class-folder layout is scanned.
        with_label: False for unlabelled data (self-supervised): every image file under
            ``data_prefix`` (or every path of the annotation file) is a sample without a label.
        extensions: allowed file extensions (case-insensitive).
        metainfo / classes: class names (required for annotation files to print names; for
            class folders they must match the number of folders).
        allow_outside_root: let annotation-file paths be absolute or climb out of
            ``data_prefix`` with ``..`` (refused by default: an annotation file from elsewhere
            must not make training read arbitrary files).
    """

    def __init__(self, data_root: str = '', data_prefix: str | dict = '', ann_file: str = '',
                 with_label: bool = True, extensions: Sequence[str] = IMG_EXTENSIONS,
                 metainfo: dict | None = None, lazy_init: bool = False, allow_outside_root: bool = False,
                 **kwargs):
        if not (ann_file or data_prefix or data_root):
            raise DataError(f'{type(self).__name__} needs one of ann_file, data_root or data_prefix.')
        self.extensions = tuple(sorted({e.lower() for e in extensions}))
        self.with_label = with_label
        self.allow_outside_root = allow_outside_root
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root, data_prefix=data_prefix,
                         lazy_init=True, **kwargs)
        if not lazy_init:
            self.full_init()

    def is_valid_file(self, filename: str) -> bool:
        return filename.lower().endswith(self.extensions)

    def _find_samples(self) -> tuple[list[str], np.ndarray | None]:
        root = self.img_prefix
        if not self.with_label:
            if not os.path.isdir(root):
                raise DataError(f'data folder {root!r} does not exist; check data_root and data_prefix.')
            files = scan_files(root, self.extensions)
            if not files:
                raise DataError(f'found no image files under {root} (extensions: {", ".join(self.extensions)}).')
            return files, None
        folders = find_folders(root)
        classes = self._metainfo.get('classes')
        if classes is not None and len(classes) != len(folders):
            raise DataError(f'{root} has {len(folders)} class folders but {len(classes)} classes are given; '
                            f'the folder count must match (or drop the classes to use the folder names).')
        if classes is None:
            self._metainfo['classes'] = tuple(folders)
        self.folder_to_idx = {f: i for i, f in enumerate(folders)}
        paths: list[str] = []
        labels: list[np.ndarray] = []
        empty = []
        for i, folder in enumerate(folders):
            files = scan_files(os.path.join(root, folder), self.extensions)
            if not files:
                empty.append(folder)
            paths.extend(f'{folder}/{f}' for f in files)
            labels.append(np.full(len(files), i, dtype=np.int64))
        if not paths:
            raise DataError(f'found no image files in the sub-folders of {root} '
                            f'(extensions: {", ".join(self.extensions)}).')
        if empty:
            logger.warning('no image files in the class folder(s) %s of %s (extensions: %s)',
                           ', '.join(empty), root, ', '.join(self.extensions))
        return paths, np.concatenate(labels)

    def load_data_list(self) -> PathLabelList:
        if not self.ann_file:
            paths, labels = self._find_samples()
        else:
            paths, labels = parse_ann_file(self.ann_file, self.with_label)
            if not paths:
                raise DataError(f'annotation file {self.ann_file} lists no samples.')
            if not self.allow_outside_root:
                check_inside_root(paths, self.ann_file)
        return PathLabelList(paths, labels, prefix=self.img_prefix)

"""What the image-text datasets (captioning, retrieval, VQA, grounding, NLVR) share: reading an annotation
file in its official format and checking each entry, with errors that name the file, the entry and the format.

A dataset subclasses :class:`AnnotationDataset`, sets ``FORMAT`` (a one-line description of the file it
reads, quoted in every error) and reads with ``self.read(path)`` and ``self.field(entry, key, where)``.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Any, Iterable

from fovea.data.datasets.base import BaseDataset, expand_path
from fovea.utils.errors import DataError

__all__: list[str] = []  # helpers only: nothing to register

_MISSING = object()


class AnnotationDataset(BaseDataset):
    """A :class:`BaseDataset` whose samples come from annotation files in a dataset's official format."""

    FORMAT = ''  # e.g. "a JSON list of {'image': ..., 'caption': ...}"

    def join(self, path: str) -> str:
        """A second annotation file (question file, split file) joined onto ``data_root``, as ``ann_file``."""
        return expand_path(self.data_root, path) if path else path

    def error(self, path: str, message: str) -> DataError:
        hint = f' {type(self).__name__} reads {self.FORMAT}.' if self.FORMAT else ''
        return DataError(f'{type(self).__name__}: annotation file {path!r}: {message}.{hint}')

    def read(self, path: str | None = None, lines: bool = False, expect: type | tuple | None = None) -> Any:
        """The parsed JSON file (``lines``: one JSON value per non-empty line, as a list); ``expect`` the type
        of the top-level value (list or dict)."""
        path = path or self.ann_file
        if not path or not os.path.isfile(path):
            raise self.error(path, 'no such file; check data_root and the file arguments')
        with open(path, encoding='utf-8') as f:
            if lines:
                data = []
                for n, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            data.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            raise self.error(path, f'line {n} is not JSON ({exc.msg})') from None
            else:
                try:
                    data = json.load(f)
                except json.JSONDecodeError as exc:
                    raise self.error(path, f'not JSON ({exc.msg} at line {exc.lineno})') from None
        if expect is not None and not isinstance(data, expect):
            names = ' or '.join(t.__name__ for t in (expect if isinstance(expect, tuple) else (expect,)))
            raise self.error(path, f'the file holds a {type(data).__name__}, not a {names}')
        return data

    def field(self, entry: Any, key: str, where: str, path: str | None = None, kind: type | tuple | None = None,
              default: Any = _MISSING) -> Any:
        """``entry[key]``, or a DataError naming the file, the entry (``where``: 'entry 3', 'question 17') and
        the keys it has; ``kind`` checks the value's type (None passes when a default of None is given)."""
        path = path or self.ann_file
        if not isinstance(entry, dict):
            raise self.error(path, f'{where} is a {type(entry).__name__}, not an object')
        if key not in entry:
            if default is not _MISSING:
                return default
            raise self.error(path, f'{where} has no {key!r} (it has {sorted(entry)})')
        value = entry[key]
        if kind is not None and not isinstance(value, kind) and not (value is None and default is None):
            names = ' or '.join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            raise self.error(path, f'{where}: {key!r} is {value!r} ({type(value).__name__}), not a {names}')
        return value

    def item(self, container: Any, key: Any, where: str, what: str, path: str | None = None) -> Any:
        """``container[key]`` for a cross-reference (an annotation's image id, a split's problem id)."""
        try:
            return container[key]
        except (KeyError, IndexError, TypeError):
            raise self.error(path or self.ann_file, f'{where} refers to {what} {key!r}, which is not there') from None

    def image_index(self, folder: str, pattern: str) -> dict[int, str]:
        """``{id: path}`` for the files in ``folder`` whose name contains an id matching ``pattern`` (the last
        match counts): VQAv2 and Visual Genome annotations give image ids, not file names."""
        if not os.path.isdir(folder):
            raise DataError(f'{type(self).__name__}: image folder {folder!r} does not exist; check data_root and '
                            f'data_prefix.')
        index = {}
        regex = re.compile(pattern)
        with os.scandir(folder) as it:
            for e in it:
                found = regex.findall(e.name)
                if found and e.is_file():
                    index[int(found[-1])] = os.path.join(folder, e.name)
        return index


def answer_weights(answers: Iterable[str]) -> tuple[list[str], list[float]]:
    """The distinct answers (first-seen order) and each one's share of the votes (MMPretrain's
    ``gt_answer`` / ``gt_answer_weight``)."""
    answers = list(answers)
    count = Counter(answers)
    return list(count), [n / len(answers) for n in count.values()]

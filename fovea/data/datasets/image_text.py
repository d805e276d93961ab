"""Image-text pairs from an annotation file (CSV, TSV or JSON lines), for contrastive language-image
training (CLIP). Streams of pairs in tar shards: ``TarShardDataset(text_key='txt')``; retrieval and captioning
sets in their official formats (COCO, Flickr30k): caption.py."""
from __future__ import annotations

import csv
import os
from typing import Sequence

from fovea.data.datasets._annotations import AnnotationDataset
from fovea.registry import DATASETS
from fovea.utils.errors import DataError

__all__ = ['ImageTextDataset']


@DATASETS.register_module()
class ImageTextDataset(AnnotationDataset):
    """One sample per row: ``img_path`` (relative to ``data_prefix``) and its caption as ``text``.

    Args:
        ann_file: ``.csv`` / ``.tsv`` with a header row (open_clip's ``--train-data`` CSVs), or ``.jsonl``
            / ``.json`` lines of objects.
        img_key / caption_key: the image-path and caption columns (open_clip's defaults:
            ``filepath`` and ``title``).
        separator: the column separator (default: ``'\\t'`` for .tsv and open_clip-style tab-separated
            .csv files, detected from the header, else ``','``).
        data_root / data_prefix: image paths are relative to ``data_root/data_prefix``.
        pipeline: transforms; end with ``PackInputs(algorithm_keys=['text'])``.
    """

    def __init__(self, ann_file: str, img_key: str = 'filepath', caption_key: str = 'title',
                 separator: str | None = None, data_root: str = '', data_prefix: str = '',
                 pipeline: Sequence = (), **kwargs):
        self.img_key, self.caption_key, self.separator = img_key, caption_key, separator
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, pipeline=pipeline, **kwargs)

    def _rows(self) -> list[dict]:
        path = self.ann_file
        if path.endswith(('.jsonl', '.json')):
            return self.read(lines=True)
        if not os.path.isfile(path):
            raise DataError(f'ImageTextDataset annotation file {path!r} does not exist.')
        with open(path, encoding='utf-8', newline='') as f:
            header = f.readline()
            sep = self.separator or ('\t' if path.endswith('.tsv') or '\t' in header else ',')
            f.seek(0)
            return list(csv.DictReader(f, delimiter=sep))

    def load_data_list(self) -> list[dict]:
        rows = self._rows()
        if not rows:
            raise DataError(f'ImageTextDataset: {self.ann_file} has no rows.')
        missing = [k for k in (self.img_key, self.caption_key) if k not in rows[0]]
        if missing:
            raise DataError(f'ImageTextDataset: {self.ann_file} has no column {missing[0]!r} (columns: '
                            f'{sorted(rows[0])}); set img_key / caption_key.')
        out = []
        for i, row in enumerate(rows):
            img, text = row.get(self.img_key), row.get(self.caption_key)
            if not img or text is None:
                raise DataError(f'ImageTextDataset: {self.ann_file} row {i + 1} has no {self.img_key!r} or '
                                f'{self.caption_key!r} value.')
            out.append({'img_path': os.path.join(self.data_prefix, img), 'text': str(text)})
        return out

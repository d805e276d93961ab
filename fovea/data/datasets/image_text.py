"""Image-text pairs from an annotation file (CSV, TSV or JSON lines), for contrastive language-image
training (CLIP). Streams of pairs in tar shards: ``TarShardDataset(text_key='txt')``."""
from __future__ import annotations

import csv
import json
import os
from typing import Sequence

from fovea.data.datasets.base import BaseDataset
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['ImageTextDataset', 'Flickr30kRetrieval']


@DATASETS.register_module()
class ImageTextDataset(BaseDataset):
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
        if not os.path.isfile(path):
            raise DataError(f'ImageTextDataset annotation file {path!r} does not exist.')
        with open(path, encoding='utf-8', newline='') as f:
            if path.endswith(('.jsonl', '.json')):
                rows = []
                for n, line in enumerate(f, 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            raise DataError(f'{path}: line {n} is not JSON ({exc.msg}).') from None
                return rows
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


@DATASETS.register_module()
class Flickr30kRetrieval(BaseDataset):
    """Flickr30k captions in Karpathy's split file (``dataset_flickr30k.json``: ``images`` with ``filename``,
    ``split``, ``imgid`` and ``sentences`` of ``raw``/``sentid``), MMPretrain's arguments.

    Training (``test_mode=False``): one sample per caption (``img_path``, ``text``, ``image_id``,
    ``text_id``). Testing: one sample per image with all its captions (``text`` a list, ``gt_text_id``).
    ``image_id`` / ``text_id`` count from 0 within the split (for retrieval metrics).

    Args:
        data_root / data_prefix: images are ``data_root/data_prefix/<filename>``.
        ann_file: the split file.
        split: 'train', 'val' or 'test'.
    """

    def __init__(self, data_root: str, data_prefix: str, ann_file: str, split: str, **kwargs):
        if split not in ('train', 'val', 'test'):
            raise ConfigError(f"Flickr30kRetrieval split={split!r}: use 'train', 'val' or 'test'.")
        self.split = split
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                images = json.load(f)['images']
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f'Flickr30kRetrieval: {self.ann_file!r} is not a Karpathy split file with an "images" '
                            f'list ({type(exc).__name__}: {exc}).') from None
        per_image, per_caption = [], []
        for img in (i for i in images if i.get('split') == self.split):
            path = os.path.join(self.data_prefix, img['filename'])
            image_id = len(per_image)
            entry = {'img_path': path, 'image_id': image_id, 'ori_id': img.get('imgid'), 'text': [], 'gt_text_id': []}
            for sent in img['sentences']:
                text_id = len(per_caption)
                per_caption.append({'img_path': path, 'text': sent['raw'], 'image_id': image_id, 'text_id': text_id,
                                    'ori_id': sent.get('sentid')})
                entry['text'].append(sent['raw'])
                entry['gt_text_id'].append(text_id)
            per_image.append(entry)
        if not per_image:
            raise DataError(f"Flickr30kRetrieval: {self.ann_file} has no images of split {self.split!r}.")
        self.img_size, self.text_size = len(per_image), len(per_caption)
        return per_image if self.test_mode else per_caption

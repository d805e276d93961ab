"""RefCOCO / RefCOCO+ / RefCOCOg visual grounding in the official release's files (MMPretrain's ``RefCOCO``):
the COCO ``instances.json`` of the referred objects and the ``refs(<split by>).p`` pickle of referring
expressions.

The refs file is a pickle, so reading it could run code of the file's choosing; fovea reads it with
:func:`fovea.utils.safe_pickle.load_plain`, which builds dicts, lists, strings and numbers only and refuses any
other object the pickle names (nothing is imported or called). A JSON copy of the same list (``refs.json``) is
read as JSON.
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from fovea.data.datasets._annotations import AnnotationDataset
from fovea.registry import DATASETS
from fovea.utils.errors import DataError
from fovea.utils.safe_pickle import load_plain

__all__ = ['RefCOCO']


@DATASETS.register_module()
class RefCOCO(AnnotationDataset):
    """One sample per referring expression of the split: ``text`` (the sentence), ``gt_bboxes`` (a (1, 4)
    float32 array, x1 y1 x2 y2 in pixels), ``image_id``, ``ann_id``, ``img_path``.

    Args:
        data_root: the root of ``ann_file``, ``split_file`` and ``data_prefix``.
        ann_file: ``instances.json`` (COCO format: ``images`` with ``id``/``file_name``, ``annotations`` with
            ``id``/``image_id``/``bbox`` as x y w h).
        data_prefix: the image folder (``train2014``).
        split_file: ``refs(unc).p`` (or a ``.json`` of the same list): ``[{'ann_id', 'split', 'sentences':
            [{'sent', ...}, ...], ...}, ...]``.
        split: 'train', 'val', 'testA', 'testB' (RefCOCO/RefCOCO+) or 'test' (RefCOCOg).
    """

    FORMAT = ("the official files: instances.json (COCO images/annotations with x y w h 'bbox') and the refs "
              "pickle [{'ann_id', 'split', 'sentences': [{'sent'}, ...]}, ...]")

    def __init__(self, data_root: str, ann_file: str, data_prefix: str, split_file: str, split: str = 'train',
                 **kwargs):
        self.split_file, self.split = split_file, split
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def _refs(self, path: str) -> list:
        if path.endswith('.json'):
            return self.read(path, expect=list)
        if not os.path.isfile(path):
            raise self.error(path, 'no such file; check data_root and split_file')
        try:
            refs = load_plain(path)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise DataError(f'RefCOCO: refs file {path!r} is not a pickle of plain data ({exc}); fovea did not run '
                            f'anything from it. Use the official refs(<split by>).p, or the same list as JSON.') from None
        if not isinstance(refs, list):
            raise self.error(path, f'the pickle holds a {type(refs).__name__}, not a list of refs')
        return refs

    def load_data_list(self) -> list[dict]:
        coco = self.read(expect=dict)
        images = {self.field(img, 'id', f'images[{i}]'): img
                  for i, img in enumerate(self.field(coco, 'images', 'the top level', kind=list))}
        anns = {self.field(a, 'id', f'annotations[{i}]'): (i, a)
                for i, a in enumerate(self.field(coco, 'annotations', 'the top level', kind=list))}
        refs_path = self.join(self.split_file)
        out = []
        for r, ref in enumerate(self._refs(refs_path)):
            where = f'ref {r}'
            if self.field(ref, 'split', where, refs_path) != self.split:
                continue
            i, ann = self.item(anns, self.field(ref, 'ann_id', where, refs_path), where,
                               f'an annotation of {self.ann_file} with id', refs_path)
            bbox = self.field(ann, 'bbox', f'annotations[{i}]', kind=list)
            if len(bbox) != 4:
                raise self.error(self.ann_file, f'annotations[{i}]: bbox {bbox!r} is not x y w h')
            box = np.array(bbox, dtype=np.float32)
            box[2:] += box[:2]  # x y w h -> x1 y1 x2 y2
            img = self.item(images, self.field(ann, 'image_id', f'annotations[{i}]'), f'annotations[{i}]', 'image')
            path = os.path.join(self.data_prefix, self.field(img, 'file_name', f'image {img.get("id")!r}', kind=str))
            for s, sent in enumerate(self.field(ref, 'sentences', where, refs_path, kind=list)):
                out.append({'img_path': path, 'image_id': ann['image_id'], 'ann_id': ann['id'],
                            'text': self.field(sent, 'sent', f'{where}.sentences[{s}]', refs_path, kind=str),
                            'gt_bboxes': box[None].copy()})
        if not out:
            raise DataError(f'RefCOCO: {refs_path} has no referring expressions of split {self.split!r} (RefCOCO and '
                            f"RefCOCO+ have 'train', 'val', 'testA', 'testB'; RefCOCOg 'train', 'val', 'test').")
        return out

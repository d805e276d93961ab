"""NLVR2 (natural language for visual reasoning on image pairs) in its official JSON-lines files."""
from __future__ import annotations

import os

from fovea.data.datasets._annotations import AnnotationDataset
from fovea.registry import DATASETS

__all__ = ['NLVR2']


@DATASETS.register_module()
class NLVR2(AnnotationDataset):
    """One sample per statement (``train.json``, ``dev.json``, ``test1.json``): ``text`` the sentence,
    ``gt_label`` 1 for 'True' and 0 for 'False', ``img_path`` the pair
    ``<data_prefix>/<identifier without its last -part>-img0.png`` and ``-img1.png`` (load both with
    ``ApplyToList(scatter_key='img_path', ...)``).

    Args:
        ann_file / data_root / data_prefix / pipeline: as :class:`BaseDataset`.
    """

    FORMAT = "JSON lines of {'identifier': 'dev-850-0-0', 'sentence', 'label': 'True'|'False', ...}"
    LABELS = {'True': 1, 'False': 0}

    def load_data_list(self) -> list[dict]:
        out = []
        for n, ex in enumerate(self.read(lines=True), 1):
            where = f'line {n}'
            label = self.field(ex, 'label', where)
            if label not in self.LABELS:
                raise self.error(self.ann_file, f"{where}: label {label!r} is not 'True' or 'False'")
            stem = self.field(ex, 'identifier', where, kind=str).rsplit('-', 1)[0]
            out.append({'text': self.field(ex, 'sentence', where, kind=str), 'gt_label': self.LABELS[label],
                        'img_path': [os.path.join(self.data_prefix, f'{stem}-img{i}.png') for i in range(2)]})
        return out

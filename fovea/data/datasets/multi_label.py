"""MultiLabelDataset (several labels per image) and the OpenMMLab 2.0 JSON annotation format."""
from __future__ import annotations

import json

from fovea.data.datasets.base import BaseDataset, expand_path
from fovea.registry import DATASETS
from fovea.utils.errors import DataError

__all__ = ['MultiLabelDataset', 'load_openmmlab_json', 'parse_multi_label_txt']


def load_openmmlab_json(path: str) -> tuple[dict, list[dict]]:
    """Read ``{"metainfo": {...}, "data_list": [{...}, ...]}`` (MMEngine's annotation format)."""
    try:
        with open(path, encoding='utf-8') as f:
            ann = json.load(f)
    except FileNotFoundError:
        raise DataError(f'annotation file {path} does not exist; check data_root and ann_file.') from None
    except json.JSONDecodeError as exc:
        raise DataError(f'{path}, line {exc.lineno}: invalid JSON ({exc.msg}).') from None
    if not isinstance(ann, dict) or not isinstance(ann.get('data_list'), list):
        raise DataError(f'{path} must be a JSON object with a "data_list" list (and optionally "metainfo"); '
                        f'got {type(ann).__name__} with keys {sorted(ann) if isinstance(ann, dict) else "-"}.')
    return dict(ann.get('metainfo') or {}), ann['data_list']


def parse_multi_label_txt(path: str) -> list[tuple[str, list[int]]]:
    """Lines ``relative/path.jpg 3 7 12``: a path, then zero or more integer labels."""
    out = []
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise DataError(f'annotation file {path} does not exist; check data_root and ann_file.') from None
    for no, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        labels: list[int] = []
        while len(parts) > 1:
            try:
                labels.insert(0, int(parts[-1]))
            except ValueError:
                break
            parts.pop()
        name = ' '.join(parts)
        try:
            int(name)
            raise DataError(f'{path}, line {no}: {line.strip()[:120]!r} has no image path; expected '
                            f'"relative/path.jpg label label ...".')
        except ValueError:
            pass
        out.append((name, labels))
    return out


@DATASETS.register_module()
class MultiLabelDataset(BaseDataset):
    """Images with any number of labels each (``gt_label`` is a list of class indices).

    ``ann_file`` is either OpenMMLab 2.0 JSON (``{"metainfo": {"classes": [...]}, "data_list":
    [{"img_path": "a.jpg", "gt_label": [0, 2]}, ...]}``, MMPretrain's format) or text lines
    ``relative/path.jpg 0 2``. Paths are joined to ``data_prefix``. Use with
    ``data_preprocessor=dict(to_onehot=True, num_classes=...)`` and a multi-label head.
    """

    def load_data_list(self) -> list[dict]:
        if not self.ann_file:
            raise DataError(f'{type(self).__name__} needs an ann_file.')
        if self.ann_file.endswith('.json'):
            meta, items = load_openmmlab_json(self.ann_file)
            for k, v in meta.items():
                self._metainfo.setdefault(k, tuple(v) if k == 'classes' else v)
            data = []
            for i, item in enumerate(items):
                if not isinstance(item, dict) or 'img_path' not in item:
                    raise DataError(f'{self.ann_file}: data_list[{i}] has no "img_path": {item!r}'[:300])
                info = dict(item)
                info['img_path'] = expand_path(self.img_prefix, info['img_path'])
                label = info.get('gt_label', [])
                info['gt_label'] = [int(x) for x in (label if isinstance(label, (list, tuple)) else [label])]
                data.append(info)
            return data
        return [{'img_path': expand_path(self.img_prefix, p), 'gt_label': labels}
                for p, labels in parse_multi_label_txt(self.ann_file)]

    def get_cat_ids(self, idx: int) -> list[int]:
        return [int(x) for x in self.data_list[idx]['gt_label']]

"""DataSample: the per-sample record that travels with an image.

It holds meta information (``img_path``, ``ori_shape``, ...) and data fields:
ground truth (``gt_label``, ``gt_score``), predictions (``pred_label``,
``pred_score``) and anything a task adds (captions, answers, boxes). The method
names follow MMPretrain's DataSample so code written against it reads the same.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch

LabelLike = int | Sequence[int] | np.ndarray | torch.Tensor


def format_label(value: LabelLike) -> torch.Tensor:
    """Convert an int / sequence / array / tensor of class indices to a 1-D int64 tensor."""
    if isinstance(value, (int, np.integer)):
        return torch.tensor([int(value)], dtype=torch.long)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        value = torch.tensor(list(value), dtype=torch.long)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f'cannot use {type(value).__name__} {value!r} as a label; give an int, '
                        f'a list of ints, a numpy array or a tensor')
    if value.ndim == 0:
        value = value.view(1)
    return value.long()


def format_score(value: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif not isinstance(value, torch.Tensor):
        value = torch.tensor(list(value))
    return value.float() if not value.is_floating_point() else value


class DataSample:
    """A record of one sample's meta information and data fields."""

    def __init__(self, metainfo: dict | None = None, **fields: Any):
        object.__setattr__(self, '_metainfo', dict(metainfo or {}))
        object.__setattr__(self, '_fields', {})
        for k, v in fields.items():
            setattr(self, k, v)

    # ---- meta information
    def set_metainfo(self, metainfo: dict) -> 'DataSample':
        self._metainfo.update(metainfo)
        return self

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def metainfo_keys(self) -> list[str]:
        return list(self._metainfo)

    # ---- generic fields
    def set_field(self, value: Any, name: str) -> 'DataSample':
        self._fields[name] = value
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._metainfo:
            self._metainfo[name] = value
        else:
            self._fields[name] = value

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, '_fields')
        if name in fields:
            return fields[name]
        meta = object.__getattribute__(self, '_metainfo')
        if name in meta:
            return meta[name]
        raise AttributeError(f'DataSample has no field {name!r}; it has {sorted(fields) + sorted(meta)}')

    def __delattr__(self, name: str) -> None:
        self._fields.pop(name, None)
        self._metainfo.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._fields or name in self._metainfo

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, self._metainfo.get(name, default))

    def keys(self) -> list[str]:
        return list(self._fields)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._fields.items())

    def pop(self, name: str, *default: Any) -> Any:
        if name in self._fields:
            return self._fields.pop(name)
        return self._metainfo.pop(name, *default)

    # ---- labels and scores (MMPretrain names)
    def set_gt_label(self, value: LabelLike) -> 'DataSample':
        self._fields['gt_label'] = format_label(value)
        return self

    def set_gt_score(self, value: Sequence[float] | torch.Tensor) -> 'DataSample':
        score = format_score(value)
        if 'num_classes' in self._metainfo and score.numel() != self._metainfo['num_classes']:
            raise ValueError(f'gt_score has {score.numel()} entries, expected num_classes='
                             f'{self._metainfo["num_classes"]}')
        self._fields['gt_score'] = score
        return self

    def set_pred_label(self, value: LabelLike) -> 'DataSample':
        self._fields['pred_label'] = format_label(value)
        return self

    def set_pred_score(self, value: Sequence[float] | torch.Tensor) -> 'DataSample':
        self._fields['pred_score'] = format_score(value)
        return self

    # ---- tensor movement
    def _apply(self, fn) -> 'DataSample':
        out = DataSample(self._metainfo)
        for k, v in self._fields.items():
            out._fields[k] = fn(v) if isinstance(v, torch.Tensor) else v
        return out

    def to(self, *args: Any, **kwargs: Any) -> 'DataSample':
        return self._apply(lambda t: t.to(*args, **kwargs))

    def cpu(self) -> 'DataSample':
        return self._apply(lambda t: t.cpu())

    def detach(self) -> 'DataSample':
        return self._apply(lambda t: t.detach())

    def to_dict(self) -> dict:
        """Fields and meta information as plain Python values (for JSON output)."""
        def plain(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                return v.tolist()
            if isinstance(v, np.ndarray):
                return v.tolist()
            return v
        return {**{k: plain(v) for k, v in self._metainfo.items()}, **{k: plain(v) for k, v in self._fields.items()}}

    def __repr__(self) -> str:
        def short(v: Any) -> str:
            if isinstance(v, torch.Tensor):
                return f'tensor(shape={tuple(v.shape)}, dtype={v.dtype})' if v.numel() > 8 else repr(v)
            return repr(v)
        meta = ', '.join(f'{k}={short(v)}' for k, v in self._metainfo.items())
        fields = ', '.join(f'{k}={short(v)}' for k, v in self._fields.items())
        return f'DataSample(META: {meta} | DATA: {fields})'

    def __getstate__(self) -> dict:
        return {'_metainfo': self._metainfo, '_fields': self._fields}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, '_metainfo', state['_metainfo'])
        object.__setattr__(self, '_fields', state['_fields'])

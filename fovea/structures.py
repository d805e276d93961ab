"""DataSample: the per-sample record that travels with an image.

It holds meta information (``img_path``, ``ori_shape``, ...) and data fields:
ground truth (``gt_label``, ``gt_score``), predictions (``pred_label``,
``pred_score``) and anything a task adds (captions, answers, boxes). The method
names follow MMPretrain's DataSample so code written against it reads the same.

A batch's DataSamples travel as a :class:`SampleList` (a ``list`` of DataSamples). When it is
pickled, as when it crosses from a loader worker to the main process, it sends each tensor field
as one tensor for the whole batch and the meta information as columns of plain values, and is
rebuilt into DataSamples on the other side. Sent one by one, every per-sample tensor would cost a
shared-memory file and a file descriptor of its own.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np
import torch

__all__ = ['DataSample', 'SampleList', 'format_label', 'format_score']

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

    @classmethod
    def _from_parts(cls, metainfo: dict, fields: dict) -> 'DataSample':
        """A DataSample owning these two dicts (no copies, no checks): for rebuilding batches fast."""
        out = cls.__new__(cls)
        object.__setattr__(out, '_metainfo', metainfo)
        object.__setattr__(out, '_fields', fields)
        return out

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
        fields = {k: fn(v) if isinstance(v, torch.Tensor) else v for k, v in self._fields.items()}
        return DataSample._from_parts(dict(self._metainfo), fields)

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


class SampleList(list):
    """The DataSamples of one batch: a plain ``list`` of :class:`DataSample` to everything that uses it.

    Pickled, it packs the batch (:meth:`pack`): each field that every sample holds as a tensor of one
    dtype becomes one tensor (stacked when all shapes agree, else flattened and concatenated, with
    the shapes), other fields and the meta information become columns of plain values. Unpickling
    (:meth:`unpack`) rebuilds the DataSamples, their tensors views of the batch tensors; tensors that
    arrived in shared memory are copied out of it first, so keeping a sample's label (as metrics do)
    keeps no file descriptor open. Tensors nested inside other values (a dict field) travel as they are.
    """

    def __reduce__(self):
        return SampleList.unpack, self.pack()

    def pack(self) -> tuple[int, dict, dict, list]:
        """``(n, tensors, columns, rest)``: batched tensor fields ``{name: (tensor, shapes or None)}``,
        columns of values ``{('field' or 'meta', name): [one per sample]}`` for the other keys every
        sample has, and per sample ``(meta, fields)`` dicts of the keys only some samples have."""
        tensors: dict[str, tuple[torch.Tensor, list | None]] = {}
        columns: dict[tuple[str, str], list] = {}
        for kind, dicts in (('field', [s._fields for s in self]), ('meta', [s._metainfo for s in self])):
            if not dicts:
                continue
            shared = set(dicts[0]).intersection(*dicts[1:])
            for name in (k for k in dicts[0] if k in shared):
                values = [d[name] for d in dicts]
                if kind == 'field' and _batchable(values):
                    if all(v.shape == values[0].shape for v in values):
                        tensors[name] = (torch.stack(values), None)
                    else:
                        tensors[name] = (torch.cat([v.reshape(-1) for v in values]), [tuple(v.shape) for v in values])
                else:
                    columns[(kind, name)] = values
        packed = set(columns) | {('field', name) for name in tensors}
        rest = [({k: v for k, v in s._metainfo.items() if ('meta', k) not in packed},
                 {k: v for k, v in s._fields.items() if ('field', k) not in packed}) for s in self]
        return len(self), tensors, columns, rest if any(m or f for m, f in rest) else []

    @classmethod
    def unpack(cls, n: int, tensors: dict, columns: dict, rest: list) -> 'SampleList':
        """Rebuild the DataSamples from :meth:`pack`'s parts."""
        metas: list[dict] = [{} for _ in range(n)]
        fields: list[dict] = [{} for _ in range(n)]
        for name, (t, shapes) in tensors.items():
            if t.device.type == 'cpu' and t.is_shared():
                t = t.clone()  # out of shared memory: no file descriptor stays open for it
            if shapes is None:
                parts = t.unbind(0)
            else:
                parts = [p.view(shape) for p, shape in zip(t.split([math.prod(sh) for sh in shapes]), shapes)]
            for f, p in zip(fields, parts):
                f[name] = p
        for (kind, name), values in columns.items():
            for d, v in zip(metas if kind == 'meta' else fields, values):
                d[name] = v
        for m, f, (rest_meta, rest_fields) in zip(metas, fields, rest):
            m.update(rest_meta)
            f.update(rest_fields)
        return cls(DataSample._from_parts(m, f) for m, f in zip(metas, fields))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> 'SampleList':
        """New DataSamples with their tensors on ``device``: one transfer per field for the whole batch."""
        device = torch.device(device)
        if all(v.device == device for s in self for v in s._fields.values() if isinstance(v, torch.Tensor)):
            return SampleList(DataSample._from_parts(dict(s._metainfo), dict(s._fields)) for s in self)

        def move(v: Any) -> Any:
            return v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v

        n, tensors, columns, rest = self.pack()
        tensors = {k: (move(t), shapes) for k, (t, shapes) in tensors.items()}
        columns = {k: [move(v) for v in vs] if k[0] == 'field' else vs for k, vs in columns.items()}
        rest = [(m, {k: move(v) for k, v in f.items()}) for m, f in rest]
        return SampleList.unpack(n, tensors, columns, rest)


def _batchable(values: list) -> bool:
    """Whether these per-sample values can travel as one tensor: all tensors of one dtype and device."""
    first = values[0]
    return (isinstance(first, torch.Tensor)
            and all(isinstance(v, torch.Tensor) and v.dtype == first.dtype and v.device == first.device
                    and not v.requires_grad for v in values))

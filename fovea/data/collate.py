"""Collate functions: combine packed samples into a batch."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from fovea.registry import FUNCTIONS
from fovea.structures import DataSample, SampleList

__all__ = ['default_collate', 'pseudo_collate']


@FUNCTIONS.register_module()
def pseudo_collate(batch: Sequence[Any]) -> Any:
    """Group fields into lists without stacking (MMEngine's pseudo_collate); DataSamples into a
    :class:`~fovea.structures.SampleList`."""
    first = batch[0]
    if isinstance(first, dict):
        return {k: pseudo_collate([b[k] for b in batch]) for k in first}
    return _as_list(batch)


def _as_list(batch: Sequence[Any]) -> list:
    """DataSamples as a SampleList (it crosses processes as one tensor per field), others as a list."""
    if isinstance(batch[0], DataSample) and all(isinstance(b, DataSample) for b in batch):
        return SampleList(batch)
    return list(batch)


@FUNCTIONS.register_module()
def default_collate(batch: Sequence[Any]) -> Any:
    """Like :func:`pseudo_collate`, but stacks same-shaped tensors (images of one size) into one tensor.

    Lists of tensors (the views of :class:`MultiView`) become one list entry per view, each
    stacked over the batch: ``inputs = [view0 (B, C, H, W), view1 (B, C, H, W), ...]``.

    DataSamples become a :class:`~fovea.structures.SampleList`, which crosses from a loader worker
    as one tensor per field (labels, scores, ...) and is rebuilt into DataSamples in the main process.
    Stacking in the worker means one tensor crosses the process boundary instead of one per image.
    """
    batch = [b for b in batch if b is not None]
    first = batch[0]
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, torch.Tensor) and all(isinstance(b, torch.Tensor) and b.shape == first.shape
                                               for b in batch):
        return torch.stack(list(batch))
    if (isinstance(first, (list, tuple)) and first and isinstance(first[0], torch.Tensor)
            and all(isinstance(b, (list, tuple)) and len(b) == len(first) for b in batch)):
        # multi-view samples (MultiView): one entry per view, each stacked over the batch
        return [default_collate([b[v] for b in batch]) for v in range(len(first))]
    return _as_list(batch)

"""Parameter and multiply-accumulate counting.

MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (which counts
2 FLOPs per multiply-accumulate of matmuls and convolutions) and halved.
Element-wise operations (activations, normalisation, pooling) are not counted,
the convention of MMPretrain's and the papers' tables.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['count_params', 'get_model_complexity']


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _forward_fn(model: nn.Module):
    """What to run: the model's tensor mode for fovea models, else the plain forward."""
    from fovea.models.base import BaseModel
    if isinstance(model, BaseModel):
        return lambda x: model(x, mode='tensor')
    return model


@torch.no_grad()
def get_model_complexity(model: nn.Module, input_shape: Sequence[int] = (3, 224, 224),
                         inputs: Any = None) -> dict:
    """Count parameters and MACs of one forward pass on a batch of one.

    Returns ``dict(params=int, macs=int, per_module={name: (params, macs)})``; per-module
    MACs are those of the module's whole subtree.
    """
    was_training = model.training
    model.eval()
    if inputs is None:
        p = next(iter(model.parameters()), None)
        inputs = torch.zeros(1, *input_shape, device=p.device if p is not None else 'cpu')
    counter = FlopCounterMode(display=False, depth=None)
    with counter:
        _forward_fn(model)(inputs)
    model.train(was_training)
    flops = counter.get_flop_counts()
    per_module: dict[str, tuple[int, int]] = {}
    params_by_module = {name: count_params(m) for name, m in model.named_modules()}
    totals: dict[str, int] = defaultdict(int)
    for mod_name, ops in flops.items():
        totals[mod_name] = sum(ops.values()) // 2
    root = type(model).__name__
    for name, n_params in params_by_module.items():
        key = f'{root}.{name}' if name else root
        per_module[name or '(total)'] = (n_params, totals.get(key, totals.get('Global', 0) if not name else 0))
    total_macs = sum(flops.get('Global', {}).values()) // 2
    return {'params': count_params(model), 'macs': total_macs, 'per_module': per_module}

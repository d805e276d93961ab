"""MACs of every subnet of a supernet from one table (the official SPOS code's FLOPs lookup table).

Each one-shot layer sees an input of a fixed shape whatever the other layers chose, so a subnet's
MACs are the MACs outside the one-shot layers plus, per layer, those of its chosen op. One forward
pass records the layers' input shapes; each candidate is then counted once on its own. MACs are
``FlopCounterMode`` FLOPs halved, as ``fovea.tools.complexity`` counts them (the tests check that
the table's sum equals ``get_model_complexity`` of the fixed subnet).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fovea.nas.models.mutator import NasMutator

__all__ = ['MacsTable']


def _macs(fn, *args) -> int:
    counter = FlopCounterMode(display=False, depth=None)
    with counter:
        fn(*args)
    return counter.get_total_flops() // 2


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _forward(model: nn.Module):
    from fovea.models.base import BaseModel
    return (lambda x: model(x, mode='tensor')) if isinstance(model, BaseModel) else model


class MacsTable:
    """``base`` MACs plus ``per_layer[name][op]`` MACs: ``macs(choices)`` is exact for every subnet;
    ``params(choices)`` likewise counts parameters.

    Args:
        model: the classifier holding the one-shot layers (counted in eval mode, batch of one).
        input_shape: (C, H, W) the MACs are counted at (MMRazor's constraints: 224 px).
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int] = (3, 224, 224)):
        mutator = NasMutator(model)
        self.input_shape = tuple(int(s) for s in input_shape)
        inputs: dict[str, torch.Tensor] = {}
        hooks = []
        for name, layers in mutator.groups.items():
            for i, layer in enumerate(layers):
                hooks.append(layer.register_forward_pre_hook(
                    lambda mod, args, key=(name, i): inputs.__setitem__(key, args[0])))
        previous = mutator.current_choices
        reference = {n: mutator.candidates(n)[0] for n in mutator.names}
        was_training = model.training
        model.eval()
        p = next(model.parameters(), None)
        x = torch.zeros(1, *self.input_shape, device=p.device if p is not None else 'cpu')
        try:
            mutator.set_choices(reference)
            with torch.no_grad():
                total = _macs(_forward(model), x)
                self.per_layer: dict[str, dict[str, int]] = {}
                for name, layers in mutator.groups.items():
                    self.per_layer[name] = {
                        op: sum(_macs(layer._candidates[op], inputs[(name, i)]) for i, layer in enumerate(layers))
                        for op in mutator.candidates(name)}
        finally:
            for h in hooks:
                h.remove()
            for name, layers in mutator.groups.items():
                for layer in layers:
                    layer.current_choice = previous[name]
            model.train(was_training)
        self.base = total - sum(self.per_layer[n][reference[n]] for n in mutator.names)
        self.per_layer_params = {n: {op: sum(_count(layer._candidates[op]) for layer in layers)
                                     for op in mutator.candidates(n)} for n, layers in mutator.groups.items()}
        in_layers = {id(p) for layers in mutator.groups.values() for layer in layers for p in layer.parameters()}
        self.base_params = sum(p.numel() for p in model.parameters() if id(p) not in in_layers)

    def macs(self, choices: Mapping[str, str]) -> int:
        return self.base + sum(self.per_layer[n][op] for n, op in choices.items())

    def params(self, choices: Mapping[str, str]) -> int:
        return self.base_params + sum(self.per_layer_params[n][op] for n, op in choices.items())

    def bounds(self) -> tuple[int, int]:
        """The fewest and the most MACs any subnet has."""
        return (self.base + sum(min(v.values()) for v in self.per_layer.values()),
                self.base + sum(max(v.values()) for v in self.per_layer.values()))

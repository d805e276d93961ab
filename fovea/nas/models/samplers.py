"""Which path a supernet trains on at each step: uniform (SPOS) or uniform over FLOPs bins.

A sampler is called with the mutator, a ``random.Random`` seeded for the step and the classifier;
it returns ``{layer name: op}``.
"""
from __future__ import annotations

import random
from typing import Sequence

from torch import nn

from fovea.nas.models.mutator import NasMutator
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['UniformSampler', 'FlopsBinSampler']


@MODELS.register_module()
class UniformSampler:
    """Every layer's op drawn uniformly and independently (the SPOS paper's sampling)."""

    def __call__(self, mutator: NasMutator, rng: random.Random, model: nn.Module) -> dict[str, str]:
        return mutator.sample_choices(rng)


@MODELS.register_module()
class FlopsBinSampler:
    """Uniform over FLOPs: pick one of ``num_bins`` equal bins of ``flops_range`` (MMACs at
    ``input_shape``), then draw uniform paths until one falls into it (at most ``max_tries``; then
    the last draw inside ``flops_range`` is used, else the last draw). The official SPOS code's
    supernet sampler (NNI: ``flops_bin_num=7``, ``flops_sample_timeout=500``): small and large
    subnets get trained as often as mid-sized ones, which uniform sampling over-represents.

    Args:
        flops_range: (low, high) in millions of MACs; None: the space's own bounds.
    """

    def __init__(self, flops_range: Sequence[float] | None = None, num_bins: int = 7, max_tries: int = 500,
                 input_shape: Sequence[int] = (3, 224, 224)):
        if num_bins < 1 or max_tries < 1:
            raise ConfigError(f'FlopsBinSampler needs num_bins >= 1 and max_tries >= 1, got {num_bins}, {max_tries}')
        if flops_range is not None and not (len(flops_range) == 2 and flops_range[0] < flops_range[1]):
            raise ConfigError(f'FlopsBinSampler flops_range must be (low, high) with low < high, got {flops_range}')
        self.flops_range = flops_range
        self.num_bins, self.max_tries = int(num_bins), int(max_tries)
        self.input_shape = tuple(input_shape)
        self.table = None

    def prepare(self, model: nn.Module, table=None) -> None:
        """Count the space (or take ``table``, a :class:`MacsTable` at ``input_shape``) and set the bins."""
        from fovea.nas.models.flops import MacsTable
        self.table = table or MacsTable(model, self.input_shape)
        lo, hi = (f * 1e6 for f in self.flops_range) if self.flops_range else self.table.bounds()
        space_lo, space_hi = self.table.bounds()
        if hi < space_lo or lo > space_hi:
            self.table = None
            raise ConfigError(f'FlopsBinSampler flops_range {self.flops_range} MMACs contains no subnet: the '
                              f'space spans {space_lo / 1e6:.1f}..{space_hi / 1e6:.1f} MMACs at '
                              f'{self.input_shape[-1]} px')
        self.edges = [lo + (hi - lo) * i / self.num_bins for i in range(self.num_bins + 1)]

    def __call__(self, mutator: NasMutator, rng: random.Random, model: nn.Module) -> dict[str, str]:
        if self.table is None:
            self.prepare(model)
        target = rng.randrange(self.num_bins)
        inside = None
        for _ in range(self.max_tries):
            choices = mutator.sample_choices(rng)
            macs = self.table.macs(choices)
            if self.edges[target] <= macs <= self.edges[target + 1]:
                return choices
            if self.edges[0] <= macs <= self.edges[-1]:
                inside = choices
        return inside or choices

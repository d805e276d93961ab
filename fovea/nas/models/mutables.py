"""The one-shot mutable op: a layer that is one of several candidate blocks (MMRazor's ``OneShotMutableOP``).

A supernet layer holds every candidate; ``current_choice`` names the one that runs. ``fix_chosen``
turns the layer into the chosen block for good (the others are deleted, so the state dict keeps
only ``_candidates.<chosen>.*``, MMRazor's subnet names). With no current choice the forward runs
every candidate and sums their outputs (MMRazor's ``forward_all``, for counting the whole supernet).
"""
from __future__ import annotations

import random
from typing import Any

from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['OneShotMutableOP']


@MODELS.register_module()
class OneShotMutableOP(BaseModule):
    """A layer that is one of ``candidates`` (name -> op config, or an ``nn.ModuleDict``).

    Args:
        candidates: ``dict(shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3), ...)``; the order is
            the order of :attr:`choices`.
        module_kwargs: arguments every candidate gets (the backbone passes ``in_channels``,
            ``out_channels`` and ``stride``).
        alias: layers with the same alias share one choice (the mutator sets them together).
    """

    def __init__(self, candidates: dict[str, dict] | nn.ModuleDict, module_kwargs: dict | None = None,
                 alias: str | None = None, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if not candidates:
            raise ConfigError('OneShotMutableOP needs at least one candidate op in `candidates`.')
        if isinstance(candidates, nn.ModuleDict):
            ops = candidates
        elif isinstance(candidates, dict):
            ops = nn.ModuleDict()
            for name, cfg in candidates.items():
                if not isinstance(cfg, dict) or 'type' not in cfg:
                    raise ConfigError(f'candidates.{name} must be an op config dict with a `type`, got {cfg!r}')
                ops[name] = MODELS.build({**cfg, **(module_kwargs or {})}, key=f'candidates.{name}')
        else:
            raise ConfigError(f'OneShotMutableOP candidates must be a dict of op configs or an nn.ModuleDict, '
                              f'got {type(candidates).__name__}')
        self._candidates = ops
        self.alias = alias
        self.module_kwargs = dict(module_kwargs or {})
        self.is_fixed = False
        self._current: str | None = None

    @property
    def choices(self) -> list[str]:
        """Names of the candidates (only the chosen one once fixed)."""
        return list(self._candidates.keys())

    @property
    def num_choices(self) -> int:
        return len(self._candidates)

    @property
    def current_choice(self) -> str | None:
        return self._current

    @current_choice.setter
    def current_choice(self, choice: str | None) -> None:
        if choice is not None:
            self._check(choice)
        self._current = choice

    def _check(self, choice: Any) -> None:
        if choice not in self._candidates:
            raise ConfigError(f'{choice!r} is not a candidate of this layer.{did_you_mean(str(choice), self.choices)} '
                              f'Its candidates: {", ".join(self.choices)}.')

    def sample_choice(self, rng: random.Random | None = None) -> str:
        """A candidate drawn uniformly (from ``rng``, else Python's global generator)."""
        return (rng or random).choice(self.choices)

    def fix_chosen(self, chosen: str) -> None:
        """Keep ``chosen`` only: the layer becomes that block (the other candidates are deleted)."""
        self._check(chosen)
        if self.is_fixed:
            return
        for name in self.choices:
            if name != chosen:
                del self._candidates[name]
        self._current = chosen
        self.is_fixed = True

    def dump_chosen(self) -> dict:
        """``{'chosen': name}``, the value of this layer in an MMRazor 1.x subnet YAML."""
        if self._current is None:
            raise ConfigError('this layer has no current choice to dump; set or sample one first')
        return dict(chosen=self._current)

    def forward(self, x: Any) -> Any:
        if self._current is None:  # every candidate, summed (counting the whole supernet)
            return sum(op(x) for op in self._candidates.values())
        return self._candidates[self._current](x)

    def extra_repr(self) -> str:
        return f'choices={self.choices}, current={self._current!r}, fixed={self.is_fixed}'

"""The mutator: every one-shot layer of a model, its choices set, sampled, fixed, dumped and loaded.

Choices are a dict ``{layer name: op name}`` with the layer names of MMRazor 1.x, relative to the
classifier (``backbone.layers.0.0``). Subnet YAML files hold ``{name: {chosen: op}}`` (1.x); MMRazor
0.x files, ``{stage_i_block_j: {chosen: [op]}}``, are read too: stage ``i`` is the ``i``-th container
of one-shot layers in the model, block ``j`` the ``j``-th layer in it.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from fovea.nas.models.mutables import OneShotMutableOP
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['NasMutator', 'read_subnet_yaml', 'write_subnet_yaml', 'fix_subnet']

_LEGACY_KEY = re.compile(r'^stage_(\d+)_block_(\d+)$')


@MODELS.register_module()
class NasMutator:
    """Sets and samples the choices of all :class:`OneShotMutableOP` layers of a model.

    Layers sharing an ``alias`` form one group (one choice, keyed by the alias); every other layer
    is its own group, keyed by its module name.
    """

    def __init__(self, model: nn.Module | None = None):
        self.groups: dict[str, list[OneShotMutableOP]] = {}
        if model is not None:
            self.prepare_from_supernet(model)

    def prepare_from_supernet(self, model: nn.Module) -> None:
        self.groups = {}
        for name, module in model.named_modules():
            if isinstance(module, OneShotMutableOP):
                self.groups.setdefault(module.alias or name, []).append(module)
        if not self.groups:
            raise ConfigError(f'{type(model).__name__} has no OneShotMutableOP layer: it is not a search space '
                              f'(build its backbone with one-shot layers, e.g. SearchableShuffleNetV2)')

    @property
    def names(self) -> list[str]:
        return list(self.groups)

    def candidates(self, name: str) -> list[str]:
        return self.groups[name][0].choices

    @property
    def search_space_size(self) -> int:
        size = 1
        for name in self.groups:
            size *= len(self.candidates(name))
        return size

    @property
    def current_choices(self) -> dict[str, str | None]:
        return {name: layers[0].current_choice for name, layers in self.groups.items()}

    def sample_choices(self, rng: random.Random | None = None) -> dict[str, str]:
        """One candidate per group, uniformly (from ``rng``, else Python's global generator)."""
        return {name: layers[0].sample_choice(rng) for name, layers in self.groups.items()}

    def set_choices(self, choices: Mapping[str, str]) -> None:
        """Make ``choices`` the current ones; every group must be given, each with one of its candidates."""
        self.check_choices(choices)
        for name, choice in choices.items():
            for layer in self.groups[name]:
                layer.current_choice = choice

    def fix_choices(self, choices: Mapping[str, str]) -> None:
        """Turn every layer into its chosen block (the other candidates are deleted)."""
        self.check_choices(choices)
        for name, choice in choices.items():
            for layer in self.groups[name]:
                layer.fix_chosen(choice)

    def check_choices(self, choices: Mapping[str, Any], source: str = 'choices') -> None:
        unknown = [k for k in choices if k not in self.groups]
        if unknown:
            raise ConfigError(f'{source}: {unknown[0]!r} is not a searchable layer of this model.'
                              f'{did_you_mean(str(unknown[0]), self.names)} Its {len(self.groups)} layers are '
                              f'{_span(self.names)}.')
        missing = [k for k in self.groups if k not in choices]
        if missing:
            raise ConfigError(f'{source}: no choice for the layers {", ".join(missing)}: a subnet names one op for '
                              f'each of the {len(self.groups)} searchable layers.')
        for name, choice in choices.items():
            if choice not in self.candidates(name):
                raise ConfigError(f'{source}: {name}: unknown op {choice!r}.{did_you_mean(str(choice), self.candidates(name))} '
                                  f'The candidates of this layer are {", ".join(self.candidates(name))}.')

    def encode(self, choices: Mapping[str, str]) -> tuple[int, ...]:
        """Choices as candidate indices, in layer order (the papers' notation, e.g. (2, 1, 0, ...))."""
        return tuple(self.candidates(n).index(choices[n]) for n in self.groups)

    def decode(self, indices: tuple[int, ...] | list[int]) -> dict[str, str]:
        if len(indices) != len(self.groups):
            raise ConfigError(f'{len(indices)} indices for {len(self.groups)} searchable layers')
        return {n: self.candidates(n)[int(i)] for n, i in zip(self.groups, indices)}

    def legacy_names(self) -> dict[str, str]:
        """MMRazor 0.x ``stage_i_block_j`` -> layer name."""
        out, parents = {}, {}
        for name in self.groups:
            parent = name.rsplit('.', 1)[0] if '.' in name else ''
            stage = parents.setdefault(parent, len(parents))
            block = sum(1 for v in out.values() if (v.rsplit('.', 1)[0] if '.' in v else '') == parent)
            out[f'stage_{stage}_block_{block}'] = name
        return out

    def parse_subnet(self, subnet: Mapping[str, Any], source: str = 'subnet') -> dict[str, str]:
        """``{name: {chosen: op}}`` (1.x), ``{stage_i_block_j: {chosen: [op]}}`` (0.x) or ``{name: op}`` ->
        checked ``{layer name: op}``."""
        if not isinstance(subnet, Mapping) or not subnet:
            raise ConfigError(f'{source}: a subnet is a mapping of layer names to {{chosen: op}}, got '
                              f'{type(subnet).__name__}')
        keys = list(subnet)
        legacy = all(isinstance(k, str) and _LEGACY_KEY.match(k) for k in keys)
        names = self.legacy_names() if legacy else None
        choices = {}
        for key, value in subnet.items():
            if legacy:
                if key not in names:
                    raise ConfigError(f'{source}: {key!r} (MMRazor 0.x naming) is not a searchable layer of this '
                                      f'model{did_you_mean(key, names)}; it has {_span(list(names))}.')
                name = names[key]
            else:
                name = str(key)
            chosen = value.get('chosen') if isinstance(value, Mapping) else value
            if isinstance(chosen, (list, tuple)) and len(chosen) == 1:
                chosen = chosen[0]
            if not isinstance(chosen, str):
                raise ConfigError(f'{source}: {key}: expected {{chosen: <op name>}}, got {value!r}')
            choices[name] = chosen
        self.check_choices(choices, source)
        return choices


def _span(names: list[str]) -> str:
    return ', '.join(names) if len(names) <= 4 else f'{names[0]}, {names[1]}, ..., {names[-1]}'


def read_subnet_yaml(path: str | Path) -> dict:
    """The mapping a subnet YAML (or JSON) file holds, read without running code."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'subnet file {path} does not exist (fix_subnet names the YAML that `fovea search` '
                          f'wrote, e.g. <work_dir>/<run>/best_fix_subnet.yaml)')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as exc:
        raise ConfigError(f'subnet file {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'subnet file {path} must map layer names to {{chosen: op}}, got {type(data).__name__}')
    return data


def write_subnet_yaml(choices: Mapping[str, str], path: str | Path) -> None:
    """MMRazor 1.x format: ``backbone.layers.0.0: {chosen: shuffle_7x7}``, one entry per layer."""
    from fovea.utils.io import atomic_write_text
    lines = [f'{name}:\n  chosen: {choice}\n' for name, choice in choices.items()]
    atomic_write_text(path, ''.join(lines))


def fix_subnet(model: nn.Module, subnet: str | Path | Mapping[str, Any]) -> dict[str, str]:
    """Fix every one-shot layer of ``model`` to the subnet (a YAML path or a mapping); returns the choices."""
    source = str(subnet) if isinstance(subnet, (str, Path)) else 'fix_subnet'
    data = read_subnet_yaml(subnet) if isinstance(subnet, (str, Path)) else subnet
    mutator = NasMutator(model)
    choices = mutator.parse_subnet(data, source)
    mutator.fix_choices(choices)
    return choices

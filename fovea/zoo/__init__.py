"""The model index: every named model fovea ships, with its config and metadata.

Each module in this package (one per family) defines ``ENTRIES``, a list of dicts::

    dict(name='resnet50_8xb32_in1k',            # the name get_model() takes
         config='resnet/resnet50_8xb32_in1k.py',  # shipped config, relative to fovea/configs
         task='Image Classification',
         params_m=25.56, flops_g=4.09,            # GMACs (multiply-accumulates), as `fovea flops` counts
         top1=76.55, dataset='ImageNet-1k',       # reference accuracy where published (None otherwise)
         paper='Deep Residual Learning for Image Recognition',
         weights=dict(url='https://...', sha256='...', source='mmpretrain'),  # or None
         )
"""
from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from functools import lru_cache

from fovea.utils.errors import ConfigError, did_you_mean

__all__ = ['model_index', 'find_entry', 'search_entries']

REQUIRED = ('name', 'config', 'task')


@lru_cache(maxsize=1)
def model_index() -> dict[str, dict]:
    """name -> entry, over every zoo module."""
    index: dict[str, dict] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f'{__name__}.{info.name}')
        for entry in getattr(mod, 'ENTRIES', ()):
            missing = [k for k in REQUIRED if k not in entry]
            if missing:
                raise ValueError(f'zoo entry {entry} in {mod.__name__} lacks {missing}')
            if entry['name'] in index:
                raise ValueError(f'zoo entry {entry["name"]!r} is defined twice')
            index[entry['name']] = dict(entry)
    return index


def find_entry(name: str) -> dict:
    index = model_index()
    if name not in index:
        from fovea.registry import mmpretrain_names
        if name in mmpretrain_names()['model_zoo']:
            raise ConfigError(f'{name!r} is a model of MMPretrain 1.2.0\'s model zoo that fovea does not provide yet '
                              f'(it is not a typo). `fovea list-models` lists the {len(index)} available names.')
        raise ConfigError(f'Unknown model name {name!r}.{did_you_mean(name, index)} '
                          f'`fovea list-models` lists the {len(index)} available names.')
    return index[name]


def search_entries(pattern: str | None = None, task: str | None = None) -> list[dict]:
    """Entries whose name matches a shell pattern (``'resnet*'``) or contains ``pattern``."""
    out = []
    for name, e in model_index().items():
        if pattern and not (fnmatch.fnmatch(name, pattern) or pattern in name):
            continue
        if task and e.get('task', '').lower() != task.lower():
            continue
        out.append(e)
    return out

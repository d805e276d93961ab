"""Check that every image of a dataset can be read and decoded (``fovea verify-dataset``)."""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fovea.registry import DATASETS, build
from fovea.utils.errors import ConfigError, DataError

__all__ = ['verify_dataset', 'dataset_cfg_for_phase']


def dataset_cfg_for_phase(cfg: dict, phase: str = 'train') -> dict:
    """The dataset config of ``<phase>_dataloader``, with its pipeline reduced to the loading step."""
    key = f'{phase}_dataloader'
    if key not in cfg or not cfg[key]:
        raise ConfigError(f'the config has no {key}; choose --phase from '
                          f'{[k[:-11] for k in cfg if k.endswith("_dataloader")]}.')
    ds = copy.deepcopy(dict(cfg[key]['dataset']))

    def strip(d: dict) -> None:
        if 'pipeline' in d:
            loads = [t for t in d['pipeline'] if isinstance(t, dict) and str(t.get('type', '')).endswith(
                'LoadImageFromFile')]
            d['pipeline'] = loads[:1] or [dict(type='LoadImageFromFile')]
        for k in ('dataset', 'datasets'):
            sub = d.get(k)
            if isinstance(sub, dict):
                strip(sub)
            elif isinstance(sub, (list, tuple)):
                for s in sub:
                    if isinstance(s, dict):
                        strip(s)
    strip(ds)
    return ds


def verify_dataset(dataset: Any, num_workers: int = 4) -> tuple[int, list[tuple[int, str, str]]]:
    """Decode every sample of ``dataset`` (a dataset or a dataset config).

    Returns ``(number checked, [(index, path, reason), ...])`` for the unreadable ones.
    Samples held in memory (CIFAR, MNIST) have nothing to read and count as checked.
    """
    if isinstance(dataset, dict):
        dataset = build(dataset, DATASETS, key='dataset')
    if not hasattr(dataset, 'get_data_info'):
        raise ConfigError(f'{type(dataset).__name__} cannot be verified sample by sample (it is streamed); '
                          f'decode it with a dataloader instead.')
    from fovea.data.transforms.loading import read_image
    n = len(dataset)

    def check(i: int) -> tuple[int, str, str] | None:
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        if path is None:
            return None
        try:
            read_image(path)
        except DataError as exc:
            return i, path, str(exc)
        except Exception as exc:  # anything else from a decoder is also an unreadable file
            return i, path, f'{type(exc).__name__}: {exc}'
        return None

    with ThreadPoolExecutor(max(1, num_workers)) as pool:  # decoders release the GIL
        bad = [r for r in pool.map(check, range(n), chunksize=64) if r is not None]
    return n, bad

"""CNN zoo B model index: every entry's recipe loads (once the shared dataset/schedule bases exist),
builds, and has the parameters its entry states; names, weights and metadata are complete."""
from __future__ import annotations

import pytest
import torch

import fovea
from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.tools.complexity import count_params
from fovea.utils.errors import ConfigError
from fovea.zoo import search_entries

FAMILIES = ('mobilenet_v2', 'mobilenet_v3', 'shufflenet_v1', 'shufflenet_v2', 'repvgg', 'convnext', 'efficientnet')
ENTRIES = [e for e in search_entries() if e['config'].split('/')[0] in FAMILIES]


def test_index_lists_every_family():
    assert len(ENTRIES) >= 50
    assert {e['config'].split('/')[0] for e in ENTRIES} == set(FAMILIES)
    assert 'convnext-tiny_32xb128_in1k' in fovea.list_models('convnext*')
    for e in ENTRIES:
        assert e['paper'] and e['top1'] and e['dataset'] == 'ImageNet-1k'
        assert e['weights']['url'].startswith('https://download.openmmlab.com/')
        assert e['weights']['url'].endswith(f"-{e['weights']['sha256']}.pth")


# one recipe per backbone configuration (entries share recipes)
RECIPES = sorted({e['config']: e for e in ENTRIES}.values(), key=lambda e: e['config'])


@pytest.mark.parametrize('entry', RECIPES, ids=[e['config'] for e in RECIPES])
def test_recipe_builds_with_the_stated_parameters(entry):
    try:
        cfg = Config.fromfile(entry['config'])
    except ConfigError as exc:
        if 'was not found' in str(exc):
            pytest.skip(f'a shared base config is not written yet: {exc}')
        raise
    assert cfg.train_dataloader and cfg.optim_wrapper and cfg.param_scheduler is not None
    with torch.device('meta'):
        model = build_model_from_cfg(cfg.to_dict()['model'])
    assert round(count_params(model) / 1e6, 2) == entry['params_m']

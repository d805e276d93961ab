"""VAN: parameter counts and MACs of MMPretrain's four configs against its metafile, stage outputs, freezing."""
from __future__ import annotations

import pytest
import torch

from fovea.models.backbones.van import VAN
from fovea.utils.errors import ConfigError
from zoo_helpers import count_config

# config, exact parameters (the metafile rounds to 10^4), GMACs as the metafile gives them
PUBLISHED = [('van-tiny_8xb128_in1k', 4_105_800, 0.88), ('van-small_8xb128_in1k', 13_861_800, 2.52),
             ('van-base_8xb128_in1k', 26_578_472, 5.03), ('van-large_8xb128_in1k', 44_765_608, 8.99)]
TINY = dict(embed_dims=[8, 16], depths=[1, 2], ffn_ratios=[2, 2])


@pytest.mark.parametrize('name,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, gmacs):
    _, n_params, macs = count_config(f'van/{name}.py')
    assert n_params == params
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs


def test_stage_outputs_and_frozen_stages():
    model = VAN(TINY, patch_sizes=(7, 3), out_indices=(0, 1), frozen_stages=0, drop_path_rate=0.1)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 8), (2, 16, 4, 4)]
    assert model.stage_reductions == (4, 8)
    # each stage ends in a LayerNorm over channels
    assert outs[1].mean(1).abs().max() < 1e-5
    model.train()
    assert not any(p.requires_grad for p in model.blocks1.parameters()) and not model.patch_embed1.norm.training
    assert all(p.requires_grad for p in model.blocks2.parameters())
    assert model.blocks2[1].drop_path.drop_prob == pytest.approx(0.1)


def test_bad_arch():
    with pytest.raises(ConfigError, match="VAN arch 'huge' is unknown"):
        VAN('huge')
    with pytest.raises(ConfigError, match='one embed_dims, ffn_ratios and patch_sizes entry per stage'):
        VAN(TINY)

"""ConvMixer: parameter counts and MACs of MMPretrain's three configs against its metafile, outputs and freezing."""
from __future__ import annotations

import pytest
import torch

from fovea.models.backbones.convmixer import ConvMixer
from fovea.utils.errors import ConfigError
from zoo_helpers import count_config

# config, parameters and FLOPs as MMPretrain's metafile gives them (224 px)
PUBLISHED = [('convmixer-768-32_10xb64_in1k', 21_110_248, 19_623_051_264),
             ('convmixer-1024-20_10xb64_in1k', 24_383_464, 5_550_112_768),
             ('convmixer-1536-20_10xb64_in1k', 51_625_960, 48_713_170_944)]


@pytest.mark.parametrize('name,params,flops', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, flops):
    model, n_params, macs = count_config(f'convmixer/{name}.py')
    assert n_params == params
    # MMPretrain's counter skips the depthwise convs (padding='same' is an operator it does not know)
    backbone = model.backbone
    side = 224 // backbone.patch_size
    depthwise = backbone.depth * backbone.embed_dims * backbone.kernel_size ** 2 * side ** 2
    assert abs(macs - depthwise - flops) <= 0.03 * flops
    assert macs - depthwise < flops   # and nothing else is missing


def test_outputs_and_frozen_blocks():
    model = ConvMixer(dict(embed_dims=16, depth=4, patch_size=4, kernel_size=3), out_indices=(1, -1), frozen_stages=2)
    outs = model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 8, 8)] * 2
    assert model.out_channels == (16, 16) and model.feature_info[1]['reduction'] == 4
    model.train()
    assert not any(p.requires_grad for p in model.stages[:2].parameters())
    assert all(p.requires_grad for p in model.stages[2:].parameters()) and not model.stages[1].training


def test_bad_arch_names_the_choices():
    with pytest.raises(ConfigError, match="ConvMixer arch '768/30' is unknown.*768/32"):
        ConvMixer('768/30')
    with pytest.raises(ConfigError, match='dict of depth, embed_dims, kernel_size, patch_size'):
        ConvMixer(dict(embed_dims=16))
    with pytest.raises(ConfigError, match='out_indices'):
        ConvMixer(dict(embed_dims=16, depth=4, patch_size=4, kernel_size=3), out_indices=4)

"""Res2Net: published parameter counts and MACs, the hierarchical split block, MMPretrain's always-pooling
shortcut keys, timm's weights and MMPretrain's checkpoints."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.res2net import Res2Net
from fovea.utils.errors import ConfigError
from test_mobileone import randomise
from zoo_helpers import assert_converted_logits, count_config

# config, parameters (the metafile rounds to 10^4), its GMACs
PUBLISHED = [('res2net50-w14-s8_8xb32_in1k', 25_059_816, 4.22), ('res2net50-w26-s8_8xb32_in1k', 48_403_776, 8.39),
             ('res2net101-w26-s4_8xb32_in1k', 45_206_688, 8.12)]


@pytest.mark.parametrize('name,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, gmacs):
    _, n_params, macs = count_config(name)
    assert n_params == params
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs


def test_blocks_and_the_always_pooling_shortcut():
    model = Res2Net(depth=50, out_indices=(0, 1, 2, 3)).eval()   # MMPretrain's defaults: deep stem, avg_down
    assert sum(p.numel() for p in model.parameters()) == 23_669_352               # MMPretrain 1.2.0's count
    first, second = model.layer1[0], model.layer1[1]
    assert first.stage_type == 'stage' and hasattr(first, 'pool') and second.stage_type == 'normal'
    assert len(first.convs) == 3 and first.width == 26 and first.conv1.out_channels == 104
    # the shortcut keeps an AvgPool even at stride 1, so the conv and norm are downsample.1 and .2
    assert isinstance(first.downsample[0], torch.nn.AvgPool2d) and first.downsample[0].stride == 1
    assert isinstance(model.layer2[0].downsample[1], torch.nn.Conv2d)
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]
    with pytest.raises(ConfigError, match='needs scales > 1'):
        Res2Net(depth=50, scales=1)


def test_timm_weights_give_the_same_logits():
    timm = pytest.importorskip('timm')
    ref = randomise(timm.create_model('res2net50_14w_8s')).eval()
    ours = build_model_from_cfg(Config.fromfile('res2net50-w14-s8_8xb32_in1k').model_cfg()).eval()
    assert_converted_logits(ref, ours)


@pytest.mark.reference
@pytest.mark.parametrize('avg_down', [False, True])
def test_mmpretrain_checkpoint_gives_the_same_logits(avg_down):
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/res2net50-w14-s8.py').to_dict()['model']
    cfg['backbone'].update(scales=4, base_width=26, deep_stem=avg_down, avg_down=avg_down)
    ref, ours = mmpretrain_pair(cfg, randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

"""CSPNet (CSPDarkNet, CSPResNet, CSPResNeXt): published parameter counts and MACs, the cross-stage split,
timm's weights and MMPretrain's checkpoints loading strictly."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.cspnet import CSPDarkNet, CSPResNet, CSPResNeXt
from fovea.utils.errors import ConfigError
from test_mobileone import randomise
from zoo_helpers import assert_converted_logits, count_config

# config, parameters (exact; the metafile rounds to 10^4), its GMACs
PUBLISHED = [('cspdarknet50_8xb32_in1k', 27_642_184, 5.04), ('cspresnet50_8xb32_in1k', 21_616_168, 3.48),
             ('cspresnext50_8xb32_in1k', 20_569_896, 3.11)]


@pytest.mark.parametrize('name,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, gmacs):
    _, n_params, macs = count_config(name)
    assert n_params == params
    # the metafile counts at 224 px, also for CSPDarkNet and CSPResNet, which evaluate at 256 px
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs, macs / 1e9


def test_stages_split_and_reduce():
    model = CSPResNeXt(50, out_indices=(0, 1, 2, 3)).eval()
    assert model.stage_reductions == (4, 8, 16, 32) and model.out_channels == (256, 512, 1024, 2048)
    stage = model.stages[1]
    assert stage.downsample_conv.conv.groups == 32 and stage.blocks[0].conv2.groups == 32
    assert stage.expand_conv.conv.out_channels == 512 and stage.blocks[0].in_channels == 256   # half goes in
    darknet = CSPDarkNet(53, out_indices=(0, 4))
    assert darknet.stage_reductions == (2, 4, 8, 16, 32) and darknet.out_channels == (64, 1024)
    assert CSPResNet(50, deep_stem=True).stage_reductions == (2, 4, 8, 16)
    with torch.no_grad():
        outs = CSPResNet(50, out_indices=(0, 3)).eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(128, 16, 16), (1024, 2, 2)]


def test_frozen_stages_and_bad_arguments():
    model = CSPResNet(50, frozen_stages=0).train()         # MMPretrain: 0 freezes the stem and stage 0
    assert not any(p.requires_grad for p in model.stages[0].parameters()) and not model.stem.training
    assert all(p.requires_grad for p in model.stages[1].parameters())
    with pytest.raises(ConfigError, match='depth must be one of \\[53\\]'):
        CSPDarkNet(50)
    with pytest.raises(ConfigError, match='frozen_stages must be in -1 .. 3'):
        CSPResNet(50, frozen_stages=4)


@pytest.mark.parametrize('timm_name,name', [('cspdarknet53', 'cspdarknet50_8xb32_in1k'),
                                            ('cspresnext50', 'cspresnext50_8xb32_in1k')])
def test_timm_weights_give_the_same_logits(timm_name, name):
    timm = pytest.importorskip('timm')
    ref = randomise(timm.create_model(timm_name)).eval()
    assert_converted_logits(ref, build_model_from_cfg(Config.fromfile(name).model_cfg()).eval())


@pytest.mark.reference
@pytest.mark.parametrize('name', [p[0] for p in PUBLISHED])
def test_mmpretrain_checkpoint_gives_the_same_logits(name):
    from mmpretrain_pair import mmpretrain_pair
    ref, ours = mmpretrain_pair(Config.fromfile(name).model_cfg(), randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

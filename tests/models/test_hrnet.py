"""HRNet: published parameter counts and MACs, the branch outputs, timm's weights (with the conv biases of its
classification part folded into batch norms) and MMPretrain's checkpoints loading strictly."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights
from fovea.models.backbones.hrnet import HRNet
from fovea.models.necks.hr_fuse import HRFuseScales
from fovea.utils.errors import ConfigError
from test_mobileone import randomise
from zoo_helpers import assert_converted_logits, count_config

# width, parameters (the metafile, exact), its GMACs
PUBLISHED = [(18, 21_295_164, 4.330), (30, 37_708_380, 8.168), (32, 41_228_840, 8.986), (40, 57_553_320, 12.768),
             (44, 67_061_144, 14.964), (48, 77_466_024, 17.364), (64, 128_056_104, 29.002)]
# a small HRNet: one module per stage, one block per branch
SMALL = dict(stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1,), num_channels=(8,)),
             stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1), num_channels=(4, 8)),
             stage3=dict(num_modules=2, num_branches=3, block='BASIC', num_blocks=(1, 1, 1), num_channels=(4, 8, 16)),
             stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                         num_channels=(4, 8, 16, 32)))


@pytest.mark.parametrize('width,params,gmacs', PUBLISHED, ids=[f'w{p[0]}' for p in PUBLISHED])
def test_published_params(width, params, gmacs):
    with torch.device('meta'):
        model = build_model_from_cfg(Config.fromfile(f'hrnet-w{width}_4xb32_in1k').model_cfg())
    assert sum(p.numel() for p in model.parameters()) == params
    assert isinstance(model.neck[0], HRFuseScales) and model.neck[0].in_channels == (width, 2 * width, 4 * width,
                                                                                      8 * width)


@pytest.mark.parametrize('width,gmacs', [(18, 4.330), (64, 29.002)])
def test_published_macs(width, gmacs):
    assert abs(count_config(f'hrnet-w{width}_4xb32_in1k')[2] / 1e9 - gmacs) <= 0.03 * gmacs


def test_branch_outputs_and_their_subsets():
    model = HRNet(extra=SMALL)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(4, 16, 16), (8, 8, 8), (16, 4, 4), (32, 2, 2)]
    assert model.stage_reductions == (4, 8, 16, 32) and len(model.stage3) == 2
    assert len(HRNet(extra=SMALL, out_indices=(3,))(torch.randn(1, 3, 64, 64))) == 1
    single = HRNet(extra=SMALL, multiscale_output=False)
    assert single.out_channels == (4,) and len(single.stage4[-1].fuse_layers) == 1
    assert len(single(torch.randn(1, 3, 64, 64))) == 1


def test_zero_init_residual_starts_the_branch_blocks_as_identities():
    model = HRNet(extra=SMALL, zero_init_residual=True)
    model.init_weights()
    assert model.stage2[0].branches[0][0].bn2.weight.abs().sum() == 0
    assert model.layer1[0].bn3.weight.abs().sum() > 0             # MMPretrain leaves layer1 alone


@pytest.mark.slow
def test_timm_weights_give_the_same_logits():
    timm = pytest.importorskip('timm')
    ref = randomise(timm.create_model('hrnet_w18')).eval()
    with torch.no_grad():   # non-zero conv biases in timm's classification part, which the converter folds
        for name, p in ref.named_parameters():
            if name.endswith('.0.bias'):
                p.normal_()
    ours = build_model_from_cfg(Config.fromfile('hrnet-w18_4xb32_in1k').model_cfg()).eval()
    assert_converted_logits(ref, ours)
    x = torch.randn(2, 3, 64, 64)
    backbone = HRNet('w18').eval()      # a bare backbone takes the backbone part
    load_weights(backbone, ref.state_dict(), strict=True, log=False)
    with torch.no_grad():
        assert (backbone(x)[3] - ours.backbone(x)[3]).abs().max() < 1e-5


def test_bad_arguments_name_the_choices():
    with pytest.raises(ConfigError, match="HRNet arch 'w16' is unknown.*Did you mean"):
        HRNet('w16')
    with pytest.raises(ConfigError, match='stage4 is missing'):
        HRNet(extra={k: v for k, v in SMALL.items() if k != 'stage4'})
    with pytest.raises(ConfigError, match="block must be 'BASIC' or 'BOTTLENECK'"):
        HRNet(extra={**SMALL, 'stage2': {**SMALL['stage2'], 'block': 'basic'}})
    with pytest.raises(ConfigError, match='HRFuseScales needs the widths of 4 branches'):
        HRFuseScales((18, 36))


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/hrnet.py').to_dict()['model']
    cfg['backbone'] = dict(type='HRNet', extra=SMALL)
    cfg['neck'][0]['in_channels'] = (4, 8, 16, 32)
    ref, ours = mmpretrain_pair(cfg, randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

"""MobileOne: published parameter counts and MACs (MMPretrain's metafile counts the deploy form),
re-parameterisation (in place, from a deploy config, through `fovea reparameterize`), timm's weights in
both forms, and MMPretrain's checkpoints loading strictly."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights
from fovea.models.backbones.mobileone import MobileOne, MobileOneBlock
from fovea.utils.errors import ConfigError
from fovea.zoo import find_entry
from zoo_helpers import count_config

# size, deploy-form parameters (the metafile, exact), its GMACs, the training form's parameters (timm's
# mobileone_s* count the same plus nothing: 4,268,272 + the 1,025,000 head for S0)
PUBLISHED = [('s0', 2_078_504, 0.274, 5_293_272), ('s1', 4_764_840, 0.824, 4_825_192),
             ('s2', 7_808_168, 1.296, 7_884_648), ('s3', 10_078_312, 1.894, 10_170_600),
             ('s4', 14_838_352, 2.979, 14_951_248)]
# every kind of branch: several kxk branches, scale, identity, SE in the last blocks of a stage
TINY = dict(num_blocks=[1, 2, 2, 1], width_factor=[0.25, 0.25, 0.25, 0.25], num_conv_branches=[2, 2, 3, 1],
            num_se_blocks=[0, 1, 1, 1])


@pytest.mark.parametrize('arch,params,gmacs,train_params', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(arch, params, gmacs, train_params):
    _, n_deploy, macs = count_config(f'mobileone/deploy/mobileone-{arch}_deploy_8xb32_in1k.py')
    assert n_deploy == params
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs
    with torch.device('meta'):
        trained = build_model_from_cfg(Config.fromfile(f'mobileone-{arch}_8xb32_in1k').model_cfg())
    assert sum(p.numel() for p in trained.parameters()) == train_params
    entry = find_entry(f'mobileone-{arch}_8xb32_in1k')        # the model index counts the training form
    assert entry['params_m'] == round(train_params / 1e6, 2) and entry['mmpretrain_flops_g'] == gmacs


def randomise(model: nn.Module) -> nn.Module:
    """Random BN statistics and affine parameters, so that folding has something to get wrong."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.25)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


def test_switch_to_deploy_keeps_the_outputs():
    model = randomise(MobileOne(TINY, out_indices=(0, 1, 2, 3))).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        after = model(x)
    blocks = [m for m in model.modules() if isinstance(m, MobileOneBlock)]
    assert len(blocks) == 13 and all(b.deploy and not hasattr(b, 'branch_conv_list') for b in blocks)
    for b, a in zip(before, after):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()
    built = MobileOne(TINY, out_indices=(0, 1, 2, 3), deploy=True).state_dict()
    assert {k: v.shape for k, v in built.items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_blocks_and_outputs():
    model = MobileOne('s0', out_indices=(0, 1, 2, 3))
    assert model.stage_channels == (48, 128, 256, 1024) and model.out_channels == (48, 128, 256, 1024)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(48, 16, 16), (128, 8, 8), (256, 4, 4), (1024, 2, 2)]
    dw, pw = model.stage2[2], model.stage2[3]             # second depthwise/pointwise pair of stage 2
    assert len(dw.branch_conv_list) == 4 and dw.branch_norm is not None and dw.branch_scale is not None
    assert dw.branch_conv_list[0].conv.groups == 128
    assert pw.branch_scale is None and pw.branch_conv_list[0].conv.kernel_size == (1, 1)
    s4 = MobileOne('s4')
    assert isinstance(s4.stage3[-1].se, nn.Identity) is False and isinstance(s4.stage3[-11].se, nn.Identity)


def test_fovea_reparameterize_folds_a_mobileone_checkpoint(tmp_path, capsys):
    from fovea.cli.main import main
    cfg = Config.fromfile('mobileone-s0_8xb32_in1k')
    model = randomise(build_model_from_cfg(cfg.model_cfg())).eval()
    path, out = tmp_path / 's0.pth', tmp_path / 's0_deploy.pth'
    torch.save({'meta': {'config': cfg.pretty_text()}, 'state_dict': model.state_dict()}, path)
    with pytest.raises(SystemExit) as e:
        main(['reparameterize', str(path), str(out), '--shape', '32'])
    assert e.value.code == 0
    assert '5.29 M -> 2.08 M' in capsys.readouterr().out
    deploy = build_model_from_cfg(Config.fromfile('mobileone-s0_deploy_8xb32_in1k').model_cfg()).eval()
    stored = torch.load(out, map_location='cpu', weights_only=False)
    deploy.load_state_dict(stored['state_dict'], strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        assert (deploy(x, mode='tensor') - ref).abs().max() <= 1e-4 * ref.abs().max()


@pytest.mark.parametrize('arch,deploy', [('s0', False), ('s4', False), ('s1', True)])
def test_timm_weights_give_the_same_logits(arch, deploy):
    timm = pytest.importorskip('timm')
    ref = randomise(timm.create_model(f'mobileone_{arch}')).eval()
    if deploy:
        timm.utils.reparameterize_model(ref, inplace=True)
    cfg = Config.fromfile(f'mobileone-{arch}_8xb32_in1k').model_cfg()
    cfg['backbone']['deploy'] = deploy
    ours = build_model_from_cfg(cfg).eval()
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    assert report.source == 'timm'
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want, got = ref(x), ours(x, mode='tensor')
    assert want.abs().max() > 0.05
    assert (got - want).abs().max() < 1e-4 * max(1., want.abs().max().item())


def test_bad_arguments_name_the_choices():
    with pytest.raises(ConfigError, match="MobileOne arch 's5' is unknown.*Did you mean"):
        MobileOne('s5')
    with pytest.raises(ConfigError, match='needs exactly num_blocks, width_factor, num_conv_branches, num_se_blocks'):
        MobileOne(dict(num_blocks=[1, 1, 1, 1], width_factor=[1, 1, 1, 1]))
    with pytest.raises(ConfigError, match='num_se_blocks .* exceeds num_blocks'):
        MobileOne({**TINY, 'num_se_blocks': [2, 0, 0, 0]})
    with pytest.raises(ConfigError, match='out_indices .* out of range'):
        MobileOne('s0', out_indices=(4,))


@pytest.mark.reference
@pytest.mark.parametrize('deploy', [False, True])
def test_mmpretrain_checkpoint_gives_the_same_logits(deploy):
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/mobileone.py').to_dict()['model']
    cfg['backbone'].update(arch='s4', deploy=deploy)
    cfg['head']['in_channels'] = 2048
    ref, ours = mmpretrain_pair(cfg, randomise)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

"""RepLKNet: published parameter counts and MACs, the small kernels merging into the large ones (in place,
from a deploy config, through `fovea reparameterize`), and MMPretrain's checkpoints loading strictly."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.replknet import ReparamLargeKernelConv, RepLKNet
from fovea.utils.errors import ConfigError
from test_mobileone import randomise
from zoo_helpers import count_config

# config, parameters (the metafile, exact: the training form), GMACs the metafile gives, deploy-form parameters
PUBLISHED = [('replknet-31B_32xb64_in1k', 224, 79_864_168, 15.637, 79_527_272),
             ('replknet-31L_32xb64_in1k-384px', 384, 172_671_016, 97.240, 172_165_672),
             ('replknet-XL_32xb64_in1k-320px', 320, 335_435_752, 129.570, 335_399_656)]
TINY = dict(large_kernel_sizes=[7, 5], layers=[1, 2], channels=[8, 16], small_kernel=3, dw_ratio=1.5)


@pytest.mark.parametrize('name,size,params,gmacs,deploy_params', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, size, params, gmacs, deploy_params):
    _, n_params, macs = count_config(f'replknet/{name}.py', size)
    assert n_params == params
    assert abs(macs / 1e9 - gmacs) <= 0.03 * gmacs
    deploy = name.replace('_32xb', '-deploy_32xb')
    with torch.device('meta'):
        model = build_model_from_cfg(Config.fromfile(deploy).model_cfg())
    assert sum(p.numel() for p in model.parameters()) == deploy_params


def test_switch_to_deploy_keeps_the_outputs():
    model = randomise(RepLKNet(TINY, ffn_ratio=2, out_indices=(0, 1), strides=(2, 2), dilations=(1, 1))).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        after = model(x)
    convs = [m for m in model.modules() if isinstance(m, ReparamLargeKernelConv)]
    assert len(convs) == 3 and all(c.small_kernel_merged and not hasattr(c, 'small_conv') for c in convs)
    assert convs[0].lkb_reparam.kernel_size == (7, 7) and convs[0].lkb_reparam.groups == 12
    for b, a in zip(before, after):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()
    built = RepLKNet(TINY, ffn_ratio=2, out_indices=(0, 1), strides=(2, 2), dilations=(1, 1),
                     small_kernel_merged=True).state_dict()
    assert {k: v.shape for k, v in built.items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_outputs_get_a_norm_and_drop_path_grows():
    model = RepLKNet(TINY, out_indices=(0, 1), strides=(2, 2), dilations=(1, 1), drop_path_rate=0.2)
    outs = model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 8, 8), (16, 4, 4)] and model.stage_reductions == (4, 8)
    assert isinstance(model.stages[0].norm, torch.nn.BatchNorm2d)
    assert isinstance(RepLKNet(TINY, out_indices=(1,), strides=(2, 2), dilations=(1, 1)).stages[0].norm,
                      torch.nn.Identity)
    assert [b.drop_path.drop_prob for b in model.stages[1].blocks[::2]] == pytest.approx([0.1, 0.2])
    xl_like = RepLKNet({**TINY, 'small_kernel': None}, strides=(2, 2), dilations=(1, 1), out_indices=(1,))
    assert not hasattr(xl_like.stages[0].blocks[0].large_kernel, 'small_conv')   # XL has no small kernel
    assert xl_like.stages[0].blocks[0].pw1.conv.out_channels == 12              # dw_ratio 1.5
    assert RepLKNet.arch_settings['XL']['small_kernel'] is None


def test_fovea_reparameterize_merges_a_replknet_checkpoint(tmp_path, capsys):
    from fovea.cli.main import main
    cfg = Config.fromfile('replknet-31B_32xb64_in1k')
    cfg.model.backbone.arch = TINY
    cfg.model.backbone.strides = cfg.model.backbone.dilations = (1, 1)
    cfg.model.backbone.out_indices = (1,)
    cfg.model.head.in_channels = 16
    model = randomise(build_model_from_cfg(cfg.model_cfg())).eval()
    path, out = tmp_path / 'tiny.pth', tmp_path / 'tiny_deploy.pth'
    torch.save({'meta': {'config': cfg.pretty_text()}, 'state_dict': model.state_dict()}, path)
    with pytest.raises(SystemExit) as e:
        main(['reparameterize', str(path), str(out), '--shape', '32'])
    assert e.value.code == 0
    stored = torch.load(out, map_location='cpu', weights_only=False)
    saved = Config.from_dump(stored['meta']['config'], 'meta')
    assert saved.model.backbone.small_kernel_merged is True and 'deploy' not in saved.model.backbone
    deploy = build_model_from_cfg(saved.model_cfg()).eval()
    deploy.load_state_dict(stored['state_dict'], strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        assert (deploy(x, mode='tensor') - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_bad_arguments_name_the_choices():
    with pytest.raises(ConfigError, match="RepLKNet arch '31b' is unknown.*Did you mean"):
        RepLKNet('31b')
    with pytest.raises(ConfigError, match='arch dict needs channels, dw_ratio, large_kernel_sizes'):
        RepLKNet(dict(layers=[1, 1]))
    with pytest.raises(ConfigError, match='one entry per stage'):
        RepLKNet(TINY)
    with pytest.raises(ConfigError, match='small kernel .9. must not exceed the large one .7.'):
        RepLKNet({**TINY, 'small_kernel': 9}, strides=(2, 2), dilations=(1, 1), out_indices=(1,))


@pytest.mark.reference
@pytest.mark.parametrize('merged', [False, True])
def test_mmpretrain_checkpoint_gives_the_same_logits(merged):
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/replknet.py').to_dict()['model']
    cfg['backbone'].update(arch=TINY, strides=(2, 2), dilations=(1, 1), out_indices=(1,), small_kernel_merged=merged)
    cfg['head']['in_channels'] = 16
    ref, ours = mmpretrain_pair(cfg, randomise)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

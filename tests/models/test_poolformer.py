"""PoolFormer and RIFormer: published parameter counts and MACs, RIFormer's re-parameterisation (in place,
from a deploy config, and through `fovea reparameterize`), and MMPretrain's checkpoints loading strictly."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.poolformer import PoolFormer
from fovea.models.backbones.riformer import RIFormer, RIFormerBlock
from fovea.tools.complexity import get_model_complexity
from fovea.utils.errors import ConfigError

# arch, head width, parameters (PoolFormer's metafile gives them exactly; RIFormer's, deployed, to 10^3),
# GMACs at 224 px of RIFormer's metafile. PoolFormer's published GMACs are 2-3.5% higher (1.871 for S12):
# they count the average-pooling token mixer, which RIFormer (the same network with the mixer folded
# away) does not have and fovea, like MMPretrain's tables elsewhere, does not count.
PUBLISHED = [('s12', 512, 11_915_176, 1.822), ('s24', 512, 21_388_968, 3.412), ('s36', 512, 30_862_760, 5.003),
             ('m36', 768, 56_172_520, 8.801), ('m48', 768, 73_473_448, 11.590)]
POOLFORMER_GMACS = {'s12': 1.871, 's24': 3.510, 's36': 5.149, 'm36': 8.960, 'm48': 11.802}


def _model(backbone: str, arch: str, width: int, **kwargs):
    cfg = Config.fromfile('_base_/models/poolformer.py').to_dict()['model']
    cfg['backbone'].update(type=backbone, arch=arch, **kwargs)
    cfg['head']['in_channels'] = width
    return build_model_from_cfg(cfg)


@pytest.mark.parametrize('arch,width,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(arch, width, params, gmacs):
    with torch.device('meta'):
        pool = _model('PoolFormer', arch, width)
        deployed = _model('RIFormer', arch, width, deploy=True)
        trained = _model('RIFormer', arch, width)
    pool_count, ri_count = get_model_complexity(pool), get_model_complexity(deployed)
    assert pool_count['params'] == ri_count['params'] == params
    # training form: a depthwise 1x1 conv with bias (2 x dim) per block, folded away by deploy
    blocks = sum(PoolFormer.arch_settings[arch]['layers'][i] * d
                 for i, d in enumerate(PoolFormer.arch_settings[arch]['embed_dims']))
    assert sum(p.numel() for p in trained.parameters()) == params + 2 * blocks
    assert abs(ri_count['macs'] / 1e9 - gmacs) <= 0.01 * gmacs
    assert abs(pool_count['macs'] / 1e9 - POOLFORMER_GMACS[arch]) <= 0.035 * POOLFORMER_GMACS[arch]


def _randomise(model: torch.nn.Module) -> None:
    """Non-trivial norms, affine mixers and layer scales, so that folding has something to get wrong."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if 'layer_scale' in name else 0.2)
                    + (1.0 if name.endswith('affine.weight') else 0.))


def test_riformer_switch_to_deploy_keeps_the_outputs():
    model = RIFormer('s12', out_indices=(0, 2, 4, 6)).eval()
    _randomise(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        after = model(x)
    blocks = [m for m in model.modules() if isinstance(m, RIFormerBlock)]
    assert len(blocks) == 12 and all(b.deploy and not hasattr(b, 'token_mixer') and not hasattr(b, 'norm1')
                                     for b in blocks)
    for b, a in zip(before, after):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()
    # the switched model is the deploy form: same names and shapes, so deploy checkpoints load into it
    built = RIFormer('s12', out_indices=(0, 2, 4, 6), deploy=True).state_dict()
    assert {k: v.shape for k, v in built.items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_fovea_reparameterize_folds_a_riformer_checkpoint(tmp_path, capsys):
    from fovea.cli.main import main
    cfg = Config.fromfile('riformer-s12_8xb128_in1k')
    model = build_model_from_cfg(cfg.model_cfg()).eval()
    _randomise(model)
    path, out = tmp_path / 's12.pth', tmp_path / 's12_deploy.pth'
    torch.save({'meta': {'config': cfg.pretty_text()}, 'state_dict': model.state_dict()}, path)
    with pytest.raises(SystemExit) as e:
        main(['reparameterize', str(path), str(out), '--shape', '32'])
    assert e.value.code == 0
    assert '11.92 M -> 11.92 M' in capsys.readouterr().out      # 6,656 fewer (11,921,832 -> 11,915,176)
    deploy = build_model_from_cfg(Config.fromfile('riformer-s12-deploy_8xb128_in1k').model_cfg()).eval()
    stored = torch.load(out, map_location='cpu', weights_only=False)
    deploy.load_state_dict(stored['state_dict'], strict=True)
    assert stored['meta']['reparameterized'] == ['backbone']
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        assert (deploy(x, mode='tensor') - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_outputs_and_their_norms():
    model = PoolFormer('s12', out_indices=(0, 2, 4, 6))
    assert model.stage_channels == (64, 128, 128, 320, 320, 512, 512)
    assert model.stage_reductions == (4, 8, 8, 16, 16, 32, 32)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 16, 16), (128, 8, 8), (320, 4, 4), (512, 2, 2)]
    assert model.out_channels == (64, 128, 320, 512) and hasattr(model, 'norm6') and not hasattr(model, 'norm5')
    with pytest.raises(ValueError, match='not available'):
        model.forward_features(torch.randn(1, 3, 64, 64), indices=5)


def test_frozen_stages_freeze_the_stem_and_network_entries():
    model = PoolFormer('s12', frozen_stages=2).train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for m in model.network[:2] for p in m.parameters())
    assert all(p.requires_grad for p in model.network[2].parameters()) and not model.network[1].training


def test_bad_arguments_name_the_choices():
    with pytest.raises(ConfigError, match="PoolFormer arch 's13' is unknown.*Did you mean .*'s12'"):
        PoolFormer('s13')
    with pytest.raises(ConfigError, match='RIFormer arch must be a name or a dict with "layers" and "embed_dims"'):
        RIFormer(dict(layers=[2, 2, 6, 2]))
    with pytest.raises(ConfigError, match=r'out_indices \[7\] are out of range.*7 positions'):
        PoolFormer('s12', out_indices=(7,))


@pytest.mark.reference
@pytest.mark.parametrize('backbone,deploy', [('PoolFormer', False), ('RIFormer', False), ('RIFormer', True)])
def test_mmpretrain_checkpoint_gives_the_same_logits(backbone, deploy):
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/poolformer.py').to_dict()['model']
    cfg['backbone'].update(type=backbone, **(dict(deploy=True) if deploy else {}))
    ref, ours = mmpretrain_pair(cfg, _randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

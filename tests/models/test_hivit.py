"""HiViT: parameter counts and MACs of MMPretrain's three configs against its metafile, the model index rows,
outputs and freezing, and an MMPretrain HiViT's random weights loading strictly with equal outputs."""
from __future__ import annotations

import pytest
import torch

import fovea
from fovea.models.backbones.hivit import HiViT
from fovea.utils.errors import ConfigError
from zoo_helpers import count_config

# config, exact parameters (the metafile: 19181000, 37526000, 79051000), GMACs as the metafile gives them
PUBLISHED = [('tiny', 19_180_900, 4.603), ('small', 37_525_696, 9.072), ('base', 79_050_792, 18.474)]
# the main stage must have more blocks than the stem (6 entries of `blocks` here): MMPretrain's forward reads
# out_indices against the stem blocks too
TINY = dict(embed_dims=64, depths=[1, 1, 7], num_heads=2)


@pytest.mark.parametrize('size,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(size, params, gmacs):
    _, n_params, macs = count_config(f'hivit/hivit-{size}-p16_16xb64_in1k.py')
    assert n_params == params
    assert abs(macs / 1e9 - gmacs) <= 0.01 * gmacs


def test_zoo_rows():
    names = sorted(f'hivit-{s}-p16_16xb64_in1k' for s in ('tiny', 'small', 'base'))
    assert sorted(fovea.list_models('hivit*')) == names
    model = fovea.get_model('hivit-tiny-p16_16xb64_in1k', backbone=dict(arch=TINY, img_size=64), head=dict(
        in_channels=64, num_classes=5))
    assert model(torch.randn(1, 3, 64, 64), mode='tensor').shape == (1, 5)


def test_outputs_blocks_and_freezing():
    net = HiViT(TINY, img_size=64, rpe=True, out_indices=(2, 6), frozen_stages=3, layer_scale_init_value=0.1,
                drop_path_rate=0.1)
    # stem: 2 MLP blocks, merge, 2 MLP blocks, merge; then 7 attention blocks
    kinds = [type(b).__name__ + ('+attn' if getattr(b, 'attn', None) is not None else '') for b in net.blocks]
    assert kinds == ['BlockWithRPE'] * 2 + ['PatchMerge'] + ['BlockWithRPE'] * 2 + ['PatchMerge'] \
        + ['BlockWithRPE+attn'] * 7
    assert net.blocks[0].mlp.fc1.out_features == 16 * 3 and net.blocks[6].mlp.fc1.out_features == 64 * 4
    assert net.blocks[-1].drop_path.drop_prob == pytest.approx(0.1) and net.blocks[-1].gamma_1 is not None
    outs = net(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 4, 4)] * 2
    net.train()
    assert not any(p.requires_grad for p in net.patch_embed.parameters()) and not net.pos_embed.requires_grad
    assert not any(p.requires_grad for b in net.blocks[:3] for p in b.parameters())
    assert all(p.requires_grad for p in net.blocks[3].parameters()) and not net.blocks[0].training
    assert net.get_layer_depth('backbone.blocks.4.mlp.fc1.weight', 'backbone.') == (5, 15)
    assert net.get_layer_depth('backbone.patch_embed.proj.weight', 'backbone.') == (0, 15)
    # the relative position bias moves the outputs
    with torch.no_grad():
        net.eval()
        x = torch.randn(1, 3, 64, 64)
        ref = net(x)[-1]
        for b in net.main_blocks:
            b.attn.relative_position_bias_table.add_(1.0 * torch.randn_like(b.attn.relative_position_bias_table))
        assert (net(x)[-1] - ref).abs().max() > 1e-3


def test_bad_arguments():
    with pytest.raises(ConfigError, match="HiViT arch 'huge' is unknown"):
        HiViT('huge')
    with pytest.raises(ConfigError, match='exactly embed_dims, depths and num_heads'):
        HiViT(dict(embed_dims=64, depths=[1, 1, 2]))
    with pytest.raises(ConfigError, match=r'out_indices \[9\] are out of range'):
        HiViT(TINY, img_size=64, out_indices=(9, -1))


@pytest.mark.reference
def test_mmpretrain_weights_load_strictly_with_equal_outputs(tmp_path):
    from selfsup.reference_testutil import run_mmpretrain
    cfg = dict(type='HiViT', arch=TINY, img_size=64, rpe=True, layer_scale_init_value=0.1)
    x = torch.randn(2, 3, 64, 64)
    body = '''
model = MODELS.build(data['cfg']); model.eval()
torch.manual_seed(1)
for p in model.parameters():
    torch.nn.init.normal_(p, mean=0.0 if p.ndim > 1 else 0.1, std=0.2)
with torch.no_grad():
    out = model(data['x'])
torch.save(dict(state_dict=model.state_dict(), out=out), data['path'])
result = 0
'''
    run_mmpretrain(tmp_path, dict(cfg=cfg, x=x, path=str(tmp_path / 'ref.pth')), body)
    ref = torch.load(tmp_path / 'ref.pth')
    assert any(k.endswith('relative_position_index') for k in ref['state_dict'])    # dropped on load
    net = fovea.registry.MODELS.build(cfg).eval()
    net.load_state_dict(ref['state_dict'], strict=True)
    with torch.no_grad():
        out = net(x)
    assert len(out) == 1 and ref['out'][0].abs().max() > 1
    torch.testing.assert_close(out[0], ref['out'][0], rtol=1e-4, atol=1e-4)

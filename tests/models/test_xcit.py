"""XCiT: parameter counts and MACs against MMPretrain's metafile (every config: tests/compat), timm's xcit_*
weights (logits within 1e-4), MMPretrain's checkpoints (strict load, same logits), outputs and freezing."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.xcit import XCiT
from fovea.utils.errors import ConfigError
from zoo_helpers import assert_converts, count_config

# config, exact parameters and MACs of MMPretrain's metafile
PUBLISHED = [('xcit-nano-12-p16_8xb128_in1k', 224, 3_053_224, 557_074_560),
             ('xcit-tiny-12-p8_8xb128_in1k', 224, 6_706_504, 4_807_399_872)]
SMALL = dict(embed_dims=32, depth=2, num_heads=4, cls_attn_layers=1)


@pytest.mark.parametrize('name,size,params,macs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, size, params, macs):
    _, n_params, n_macs = count_config(f'xcit/{name}.py', size)
    assert n_params == params
    assert abs(n_macs - macs) <= 0.03 * macs     # fovea counts 1-1.1% fewer (the metafile adds elementwise ops)


def _randomise(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.rand(p.shape, generator=g) + 0.5 if name.endswith(('gamma1', 'gamma2', 'gamma3'))
                    else torch.randn(p.shape, generator=g) * 0.05)
        for name, b in model.named_buffers():
            if name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)


def _cfg(**backbone) -> dict:
    cfg = Config.fromfile('_base_/models/xcit.py').to_dict()['model']
    cfg['backbone'].update(backbone)
    cfg['head']['in_channels'] = cfg['backbone']['embed_dims']
    cfg.pop('train_cfg')
    return cfg


@pytest.mark.parametrize('patch,tokens_norm', [(16, False), (8, True)])
def test_timm_xcit_equivalence(patch, tokens_norm):
    timm = pytest.importorskip('timm')
    ref = timm.create_model(f'xcit_nano_12_p{patch}_224', pretrained=False, depth=2, cls_attn_layers=1,
                            embed_dim=64, tokens_norm=tokens_norm).eval()
    _randomise(ref)
    ours = build_model_from_cfg(_cfg(patch_size=patch, embed_dims=64, depth=2, cls_attn_layers=1,
                                     tokens_norm=tokens_norm)).eval()
    assert_converts(ref, ours, torch.randn(2, 3, 64, 48))


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    from mmpretrain_pair import mmpretrain_pair
    ref, ours = mmpretrain_pair(_cfg(patch_size=8, embed_dims=64, depth=2, tokens_norm=True), _randomise)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = ref(x, mode='tensor')
        assert want.abs().max() > 0.05 and (ours(x, mode='tensor') - want).abs().max() < 1e-4


def test_outputs_layer_scales_and_freezing():
    model = XCiT(patch_size=8, out_type='featmap', out_indices=(0, 2), frozen_stages=2, **SMALL)
    first, last = model(torch.randn(2, 3, 32, 40))
    assert first.shape == last.shape == (2, 32, 4, 5) and model.stage_reductions == (8,) * 3
    model.train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for p in model.xca_layers[0].parameters())
    assert all(p.requires_grad for p in model.xca_layers[1].parameters()) and model.cls_token.requires_grad
    cls = XCiT(patch_size=16, **SMALL)
    assert cls(torch.randn(1, 3, 32, 32))[0].shape == (1, 32) and cls.selectable_indices == (2,)
    # LPI: depthwise conv -> GELU -> BN (MMCV's order=('conv', 'act', 'norm'))
    assert [n for n, _ in cls.xca_layers[0].local_mp.conv1.named_children()] == ['conv', 'activate', 'bn']


def test_bad_arguments():
    with pytest.raises(ConfigError, match='patch_size must be 16 or 8'):
        XCiT(patch_size=4, img_size=32, **SMALL)
    with pytest.raises(ConfigError, match="no class token; choose 2..2 or out_type='featmap'"):
        XCiT(out_indices=(0,), **SMALL)

"""Swin Transformer V2: parameter counts and MACs against MMPretrain's metafile (every config: tests/compat), timm's
swinv2_* weights (logits within 1e-4), MMPretrain's checkpoints (strict load, same logits), the block layout."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.swin_transformer_v2 import SwinTransformerV2
from fovea.utils.errors import ConfigError
from zoo_helpers import assert_converts, count_config

# config, input size, parameters (timm's exact counts; the metafile rounds to 28.35 M, 196.75 M), GMACs. The
# metafile's FLOPs are not these models': 4.35 G for V2-T at 256 px is Swin V1-T's 224 px figure, where MMPretrain
# 1.2.0's own FlopAnalyzer counts 5.96 G for this config (linear 5.68, attention matmuls 0.24, norms 0.04);
# fovea counts 5.94 G (no norms). V2-L at 384 px: metafile 76.2 G, fovea 116.0 G.
PUBLISHED = [('swinv2-tiny-w8_16xb64_in1k-256px', 256, 28_347_154, 5.96),
             ('swinv2-large-w24_in21k-pre_16xb64_in1k-384px', 384, 196_739_932, None)]
SMALL = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], extra_norm_every_n_blocks=0)


@pytest.mark.parametrize('name,size,params,gmacs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, size, params, gmacs):
    _, n_params, macs = count_config(f'swin_transformer_v2/{name}.py', size)
    assert n_params == params
    if gmacs:
        assert abs(macs / 1e9 - gmacs) <= 0.01 * gmacs


def _cfg(pretrained_window: int = 0, **backbone) -> dict:
    cfg = Config.fromfile('_base_/models/swin_transformer_v2/tiny_256.py').to_dict()['model']
    cfg.pop('train_cfg')
    cfg['backbone'].update(dict(arch=dict(SMALL, embed_dims=96, num_heads=[3, 6, 12, 24]), img_size=64,
                                window_size=[4, 4, 4, 2], pretrained_window_sizes=[pretrained_window] * 4), **backbone)
    return cfg


def _randomise(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.mark.parametrize('pretrained_window', [0, 8])
def test_timm_swinv2_equivalence(pretrained_window):
    """timm clamps windows larger than the map (4 in stage 4 of a 64 px input) to the map; fovea is given the
    clamped window (2) there, as MMPretrain's configs give per-stage windows."""
    timm = pytest.importorskip('timm')
    kw = dict(pretrained_window_sizes=(pretrained_window,) * 4) if pretrained_window else {}
    ref = timm.create_model('swinv2_tiny_window8_256', pretrained=False, depths=(1, 1, 2, 1), img_size=64,
                            window_size=4, **kw)
    _randomise(ref)
    assert_converts(ref, build_model_from_cfg(_cfg(pretrained_window)), torch.randn(2, 3, 64, 64))


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    """MMPretrain's state dict carries the derived relative_coords_table / relative_position_index buffers;
    fovea rebuilds them and still loads strictly."""
    from mmpretrain_pair import mmpretrain_pair
    ref, ours = mmpretrain_pair(_cfg(8, arch=dict(SMALL, embed_dims=96, num_heads=[3, 6, 12, 24],
                                                  extra_norm_every_n_blocks=1)), _randomise)
    assert any(k.endswith('relative_coords_table') for k in ref.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = ref(x, mode='tensor')
        assert want.abs().max() > 0.05 and (ours(x, mode='tensor') - want).abs().max() < 1e-4


def test_layout_outputs_and_freezing():
    model = SwinTransformerV2(dict(SMALL, extra_norm_every_n_blocks=2), img_size=64, window_size=[4, 4, 4, 2],
                              out_indices=(0, 1, 2, 3), frozen_stages=1)
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]
    assert model.stage_channels == (16, 32, 64, 128) and model.stage_reductions == (4, 8, 16, 32)
    # merging opens stages 1-3 and normalises after its reduction (2C wide)
    assert model.stages[0].downsample is None and model.stages[1].downsample.norm.normalized_shape == (32,)
    assert [hasattr(b, 'norm3') for b in model.stages[2].blocks] == [False, True]   # every 2nd block
    model.train()
    assert not any(p.requires_grad for p in model.stages[1].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert model.get_layer_depth('stages.2.downsample.reduction.weight')[0] == 2   # before stage 2's first block


def test_bad_arch():
    with pytest.raises(ConfigError, match='SwinTransformerV2 has no arch'):
        SwinTransformerV2('tinyy')
    with pytest.raises(ConfigError, match='extra_norm_every_n_blocks'):
        SwinTransformerV2(dict(embed_dims=16, depths=[1], num_heads=[1]))
    with pytest.raises(ConfigError, match='one window_size and pretrained_window_sizes entry per stage'):
        SwinTransformerV2('tiny', window_size=[8, 8])

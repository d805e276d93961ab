"""DeiT III: published parameter counts and MACs, timm's deit3_* weights (logits within 1e-4), MMPretrain's
checkpoints (strict load, same logits) and the patch-only position embedding resized across resolutions."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights
from fovea.tools.complexity import get_model_complexity

# arch, patch, head width, img size, parameters and GMACs of MMPretrain's metafile (exact counts)
PUBLISHED = [('s', 16, 384, 224, 22_059_496, 4.608), ('s', 16, 384, 384, 22_205_416, 15.518),
             ('m', 16, 512, 224, 38_849_512, 8.003), ('b', 16, 768, 224, 86_585_320, 17.582),
             ('l', 16, 1024, 384, 304_763_880, 191.210), ('h', 14, 1280, 224, 632_126_440, 167.401)]


def _cfg(arch='s', patch=16, width=384, size=224) -> dict:
    cfg = Config.fromfile('_base_/models/deit3.py').to_dict()['model']
    cfg['backbone'].update(arch=arch, patch_size=patch, img_size=size)
    cfg['head']['in_channels'] = width
    cfg.pop('train_cfg')
    return cfg


@pytest.mark.parametrize('arch,patch,width,size,params,gmacs', PUBLISHED,
                         ids=[f'{p[0]}{p[1]}-{p[3]}' for p in PUBLISHED])
def test_published_params_and_macs(arch, patch, width, size, params, gmacs):
    with torch.device('meta'):
        model = build_model_from_cfg(_cfg(arch, patch, width, size))
    result = get_model_complexity(model, (3, size, size))
    assert result['params'] == params
    assert abs(result['macs'] / 1e9 - gmacs) <= 0.01 * gmacs
    assert model.backbone.pos_embed.shape[1] == (size // patch) ** 2      # no class-token entry


def _randomise(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if 'gamma' in name else 0.05))


def test_layer_scale_and_position_embedding_layout():
    model = build_model_from_cfg(_cfg(size=32)).backbone
    assert model.layers[0].attn.gamma1.weight.shape == (384,) and torch.all(model.layers[3].ffn.gamma2.weight == 1e-4)
    assert model.pos_embed.shape == (1, 4, 384)
    plain = build_model_from_cfg(dict(_cfg(size=32), backbone=dict(type='DeiT3', arch='s', img_size=32,
                                                                    use_layer_scale=False))).backbone
    assert not hasattr(plain.layers[0].attn.gamma1, 'weight')


def test_timm_deit3_equivalence():
    timm = pytest.importorskip('timm')
    ref = timm.create_model('deit3_small_patch16_224', pretrained=False, img_size=64).eval()
    _randomise(ref)
    ours = build_model_from_cfg(_cfg(size=64)).eval()
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    assert report.source == 'timm'
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, got = ref(x), ours(x, mode='tensor')
    assert want.abs().max() > 0.05 and (got - want).abs().max() < 1e-4


def test_checkpoint_at_another_resolution_is_interpolated():
    small = build_model_from_cfg(_cfg(size=32))
    big = build_model_from_cfg(_cfg(size=64))
    load_weights(big, small.state_dict(), strict=True, log=False)
    assert big.backbone.pos_embed.shape == (1, 16, 384)
    with torch.no_grad():
        big(torch.randn(1, 3, 64, 64), mode='tensor')


@pytest.mark.reference
def test_mmpretrain_checkpoint_loads_strictly_and_only_its_ln2_bug_differs():
    """MMPretrain 1.2.0's DeiT3TransformerEncoderLayer normalises the MLP input with ``ln1`` (``ln2`` is built,
    loaded and unused); fovea uses ``ln2``, as the paper's code and timm do. With ``ln2 == ln1`` the two agree."""
    from mmpretrain_pair import mmpretrain_pair
    ref, ours = mmpretrain_pair(_cfg(size=64), _randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() > 1e-2
        for layer in ref.backbone.layers:
            layer.ln2.load_state_dict(layer.ln1.state_dict())
        load_weights(ours, ref.state_dict(), strict=True, log=False)
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

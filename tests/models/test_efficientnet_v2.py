"""EfficientNetV2: parameter counts against MMPretrain's metafile (every config: tests/compat), MACs, timm's
tf_efficientnetv2_* weights (logits within 1e-4), MMPretrain's checkpoints (strict load, same logits), outputs
and freezing."""
from __future__ import annotations

import pytest
import torch

from fovea.models.backbones.efficientnet_v2 import EfficientNetV2
from fovea.utils.errors import ConfigError
from test_cnn_b_convert import _calibrate, _fovea
from zoo_helpers import assert_converts, count_config

# config, input size, exact parameters of the metafile, MACs. The metafile's FLOPs are 14-26% above what
# MMPretrain 1.2.0's own analyzer counts for these configs (B0 at 224 px: metafile 0.920 G, mmengine's
# FlopAnalyzer 0.729 G = 0.717 conv + 0.001 linear + 0.0095 batch norm + 0.001 pooling); fovea counts convs and
# linears, so it is checked against the analyzer's figure less batch norm and pooling.
PUBLISHED = [('efficientnetv2-b0_8xb32_in1k', 224, 7_139_704, 0.7181e9),
             ('efficientnetv2-b3_8xb32_in1k', 300, 14_358_406, None)]
TINY = [[1, 3, 1, 1, 8, 8, 0.0, -1], [1, 3, 2, 4, 8, 16, 0.0, 0], [2, 3, 2, 4, 16, 24, 0.25, 1],
        [1, 1, 1, 1, 24, 64, 0.0, -2]]


@pytest.mark.parametrize('name,size,params,macs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, size, params, macs):
    _, n_params, n_macs = count_config(f'efficientnet_v2/{name}.py', size)
    assert n_params == params
    if macs:
        assert abs(n_macs - macs) <= 0.001 * macs


@pytest.mark.parametrize('arch', ['b0'])
def test_timm_tf_efficientnetv2_equivalence(arch):
    timm = pytest.importorskip('timm')
    ref = _calibrate(timm.create_model(f'tf_efficientnetv2_{arch}', pretrained=False), 64)
    assert_converts(ref, _fovea(f'efficientnet_v2/efficientnetv2_{arch}.py'), torch.randn(2, 3, 64, 64))


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    from mmpretrain_pair import mmpretrain_pair
    from fovea.config import Config
    cfg = Config.fromfile('_base_/models/efficientnet_v2/efficientnetv2_b0.py').to_dict()['model']
    ref, ours = mmpretrain_pair(cfg, lambda m: _calibrate(m, 64))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = ref(x, mode='tensor')
        assert want.abs().max() > 0.05 and (ours(x, mode='tensor') - want).abs().max() < 1e-4


def test_outputs_blocks_and_freezing():
    model = EfficientNetV2(TINY, out_indices=(0, 1, 2, 3, 4), frozen_stages=2, drop_path_rate=0.2)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 16, 16), (8, 16, 16), (16, 8, 8), (24, 4, 4), (64, 4, 4)]
    assert model.stage_reductions == (2, 2, 4, 8, 8)
    first, fused, mbconv = model.layers[1][0], model.layers[2][0], model.layers[3][1]
    assert first.has_skip and type(fused).__name__ == 'EdgeResidual' and not fused.with_se
    assert mbconv.with_se and mbconv.se.conv1.conv.out_channels == 24 // 4    # SE on a quarter of the input
    assert mbconv.drop_path.drop_prob == pytest.approx(0.2)
    model.train()
    assert not any(p.requires_grad for p in model.layers[1].parameters()) and not model.layers[1].training
    assert all(p.requires_grad for p in model.layers[2].parameters())


def test_bad_arch():
    with pytest.raises(ConfigError, match="EfficientNetV2 arch 'b7' is unknown"):
        EfficientNetV2('b7')
    with pytest.raises(ConfigError, match='last row is the head conv'):
        EfficientNetV2(TINY[:-1])
    with pytest.raises(ConfigError, match='frozen_stages must be in range'):
        EfficientNetV2(TINY, frozen_stages=9)

"""ResNeSt: parameter counts of the four configs (MMPretrain ships no metafile: the figures are what
MMPretrain 1.2.0 builds), the split attention, timm's weights and MMPretrain's checkpoints."""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones.resnest import ResNeSt, SplitAttentionConv2d
from test_mobileone import randomise
from zoo_helpers import assert_converted_logits

# config, parameters (MMPretrain 1.2.0's build of the same file; timm's resnest50d/101e/200e/269e count the
# same backbones: 25,434,240 / 46,226,016 / 68,152,544 / 108,880,480 plus the 2,049,000 head)
COUNTS = [('resnest50_32xb64_in1k', 27_483_240), ('resnest101_32xb64_in1k', 48_275_016),
          ('resnest200_64xb32_in1k', 70_201_544), ('resnest269_64xb32_in1k', 110_929_480)]


@pytest.mark.parametrize('name,params', COUNTS, ids=[c[0] for c in COUNTS])
def test_config_params(name, params):
    with torch.device('meta'):
        model = build_model_from_cfg(Config.fromfile(name).model_cfg())
    assert sum(p.numel() for p in model.parameters()) == params


def test_split_attention_blocks():
    model = ResNeSt(50, out_indices=(0, 1, 2, 3)).eval()
    block = model.layer2[0]
    assert isinstance(block.conv2, SplitAttentionConv2d) and not hasattr(block, 'bn2')
    assert block.conv2.conv.stride == (1, 1) and block.avd_layer.stride == 2      # strides by pooling
    assert block.conv2.conv.groups == 2 and block.conv2.fc1.out_channels == 64     # radix 2, max(128*2/4, 32)
    assert not hasattr(model.layer2[1], 'avd_layer')
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]
    single = SplitAttentionConv2d(8, 8, 3, padding=1, radix=1).eval()      # radix 1: a sigmoid gate
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        feat = single.relu(single.bn0(single.conv(x)))
        gate = torch.sigmoid(single.fc2(single.relu(single.bn1(single.fc1(feat.mean((2, 3), keepdim=True))))))
        assert torch.allclose(single(x), gate * feat)


def test_timm_weights_give_the_same_logits():
    timm = pytest.importorskip('timm')
    ref = randomise(timm.create_model('resnest50d')).eval()
    cfg = Config.fromfile('_base_/models/resnest50.py').to_dict()['model']
    cfg.pop('train_cfg')
    assert_converted_logits(ref, build_model_from_cfg(cfg).eval())


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    from mmpretrain_pair import mmpretrain_pair
    cfg = Config.fromfile('_base_/models/resnest50.py').to_dict()['model']
    cfg.pop('train_cfg')
    ref, ours = mmpretrain_pair(cfg, randomise)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4

"""CNN zoo A against MMPretrain itself (optional: runs where mmpretrain is installed beside fovea).

Both toolboxes build the same shipped model config; MMPretrain's state dict loads into fovea
strictly, without renaming, and the logits agree.
"""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights

pytestmark = pytest.mark.reference

CASES = [('resnetv1d50.py', 64), ('seresnext50_32x4d.py', 64), ('resnet18_cifar.py', 32), ('resnet34_gem.py', 64),
         ('densenet/densenet121.py', 64), ('inception_v3.py', 160), ('vgg11bn.py', 224)]


@pytest.mark.parametrize('base,size', CASES, ids=[c[0] for c in CASES])
def test_mmpretrain_checkpoint_gives_the_same_logits(base, size):
    pytest.importorskip('mmpretrain')
    from mmpretrain.registry import MODELS as MM_MODELS
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    ref = MM_MODELS.build(dict(cfg))
    ref.init_weights()
    g = torch.Generator().manual_seed(1)
    for m in ref.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    ref.eval()
    ours = build_model_from_cfg(cfg).eval()
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    assert report.source in ('fovea', 'mmpretrain')
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert (ours(x, mode='tensor') - ref(x, mode='tensor')).abs().max() < 1e-4


@pytest.mark.parametrize('name,kwargs', [
    ('LabelSmoothLoss', dict(label_smooth_val=0.1, mode='original')),
    ('LabelSmoothLoss', dict(label_smooth_val=0.1, mode='classy_vision')),
    ('LabelSmoothLoss', dict(label_smooth_val=0.1, mode='multi_label')),
    ('FocalLoss', dict(gamma=2.0, alpha=0.25)),
    ('AsymmetricLoss', dict(gamma_pos=0.0, gamma_neg=4.0, clip=0.05)),
])
def test_losses_match_mmpretrain(name, kwargs):
    pytest.importorskip('mmpretrain')
    from mmpretrain.registry import MODELS as MM_MODELS
    from fovea.registry import MODELS
    logits = torch.randn(4, 6)
    target = torch.tensor([0, 3, 5, 1]) if name == 'LabelSmoothLoss' else (torch.rand(4, 6) > 0.5).float()
    ours = MODELS.build(dict(type=name, **kwargs))(logits, target)
    ref = MM_MODELS.build(dict(type=name, **kwargs))(logits, target)
    torch.testing.assert_close(ours, ref)

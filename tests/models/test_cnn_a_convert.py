"""Weight conversion from torchvision and timm into fovea's CNN zoo A: same logits after conversion."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

import fovea

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights
from fovea.registry import MODELS

from cnn_a_helpers import plain_cpu_kernels


def _randomize_bn(model: nn.Module) -> nn.Module:
    """Give batch norms non-trivial statistics and affine parameters, so conversion errors show."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def _fovea(base: str, **model_overrides) -> nn.Module:
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    for k, v in model_overrides.items():
        cfg[k].update(v)
    return build_model_from_cfg(cfg).eval()


def _check(ref: nn.Module, ours: nn.Module, size: int, source: str, ref_forward=None) -> None:
    grouped = any(isinstance(m, nn.Conv2d) and 1 < m.groups < m.in_channels for m in ours.modules())
    ref = _randomize_bn(ref)
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    # torchvision and timm share key names for several families, and one converter serves both
    assert report.source in ('torchvision', 'timm') and (report.source == source or source == 'timm')
    x = torch.randn(2, 3, size, size)
    with torch.no_grad(), contextlib.nullcontext() if grouped else plain_cpu_kernels():
        want = (ref_forward or ref)(x)
        got = ours(x, mode='tensor')
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 1e-4


TORCHVISION = [
    ('resnet18', {}, 'resnet18.py', {}, 32),
    ('resnext50_32x4d', {}, 'resnext50_32x4d.py', {}, 32),
    ('alexnet', {}, 'alexnet.py', {}, 96),
    ('vgg11_bn', {}, 'vgg11bn.py', {}, 32),
    ('googlenet', dict(aux_logits=False, init_weights=False), 'googlenet.py', {}, 64),
    ('inception_v3', dict(aux_logits=False, init_weights=False), 'inception_v3.py', {}, 75),
    ('densenet121', {}, 'densenet/densenet121.py', {}, 32),
]


@pytest.mark.parametrize('name,kwargs,base,overrides,size', TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_torchvision_equivalence(name, kwargs, base, overrides, size):
    tvm = pytest.importorskip('torchvision.models')
    ref = getattr(tvm, name)(weights=None, **kwargs)
    _check(ref, _fovea(base, **overrides), size, 'torchvision')


TIMM = [
    ('resnet18d', 'resnetv1d50.py', dict(backbone=dict(depth=18), head=dict(in_channels=512)), 64),
    ('seresnet50', 'seresnet50.py', {}, 32),
    ('vgg11', 'vgg11.py', {}, 32),
]


@pytest.mark.parametrize('name,base,overrides,size', TIMM, ids=[t[0] for t in TIMM])
def test_timm_equivalence(name, base, overrides, size):
    """timm's ResNet-D is fovea's ResNetV1d, its SE gates become SELayer convs, its VGG head convs linears
    (timm's Inception v3 and DenseNet share torchvision's names and converters)."""
    timm = pytest.importorskip('timm')
    _check(timm.create_model(name, pretrained=False), _fovea(base, **overrides), size, 'timm')


def test_other_num_classes_drops_head_with_report():
    tvm = pytest.importorskip('torchvision.models')
    ref = tvm.resnet18(weights=None)
    ours = _fovea('resnet18.py', head=dict(num_classes=10))
    report = load_weights(ours, ref.state_dict(), log=False)
    assert report.source == 'torchvision'
    assert {k for k, _, _ in report.mismatched} == {'head.fc.weight', 'head.fc.bias'}
    assert 'head.fc.weight' in str(report)
    torch.testing.assert_close(ours.backbone.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)


def test_mmpretrain_layout_into_bare_backbone(tmp_path):
    """An MMPretrain-style classifier checkpoint (backbone./head. keys) loads into a bare backbone."""
    full = _fovea('resnet18_cifar.py')
    _randomize_bn(full)
    sd = {**full.state_dict(), 'data_preprocessor.mean': torch.zeros(3, 1, 1)}
    backbone = MODELS.build(dict(type='ResNet_CIFAR', depth=18)).eval()
    report = load_weights(backbone, sd, source='mmpretrain', log=False)
    assert report.source == 'mmpretrain' and not report.missing
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(backbone(x)[0], full.backbone(x)[0])


def test_cli_convert_roundtrip(tmp_path, capsys):
    tvm = pytest.importorskip('torchvision.models')
    from fovea.cli.main import main
    ref = _randomize_bn(tvm.resnet18(weights=None))
    src = tmp_path / 'tv_resnet18.pth'
    torch.save(ref.state_dict(), src)
    dst = tmp_path / 'fovea_resnet18.pth'
    with pytest.raises(SystemExit) as exc:
        main(['convert', '--from', 'torchvision', str(src), str(dst), '--model', 'resnet18_8xb32_in1k'])
    assert exc.value.code == 0
    assert 'source: torchvision' in capsys.readouterr().out
    ours = _fovea('resnet18.py')
    report = load_weights(ours, str(dst), strict=True, log=False)
    assert report.source == 'fovea'
    direct = fovea.get_model('resnet18_8xb32_in1k', pretrained=str(src))  # detected and converted on the fly
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max() < 1e-4
        assert (direct(x) - ref(x)).abs().max() < 1e-4


def test_cli_convert_wrong_source_is_a_clear_error(tmp_path, capsys):
    from fovea.cli.main import main
    src = tmp_path / 'w.pth'
    torch.save({'foo.weight': torch.zeros(3)}, src)
    with pytest.raises(SystemExit) as exc:
        main(['convert', '--from', 'caffe', str(src), str(tmp_path / 'o.pth'), '--model', 'resnet18_8xb32_in1k'])
    assert exc.value.code == 1
    assert 'caffe' in capsys.readouterr().err

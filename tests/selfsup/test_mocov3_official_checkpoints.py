"""Official MoCo v3 checkpoints (``module.base_encoder.*``, ``module.momentum_encoder.*``,
``module.predictor.*``; a timm ViT or a torchvision ResNet whose head/fc is the projection MLP),
made here with random weights in that format: detected from the keys, they load into a fovea
MoCoV3 (every tensor, same outputs as the official modules), into a classifier or bare backbone
(the online backbone only), and through ``fovea convert`` into a checkpoint whose ``backbone.``
prefix a downstream ``init_cfg`` loads."""
from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from torch import nn

from fovea.models.weights import load_weights
from fovea.registry import MODELS, build
from fovea.tools.convert_weights import convert_checkpoint

timm = pytest.importorskip('timm')

BN1D = dict(type='BN1d')
TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _official_mlp(num_layers, in_dim, mlp_dim, out_dim, last_bn=True):
    """moco-v3's builder._build_mlp layout: Linear(no bias), BN, ReLU, ..., Linear[, BN(affine=False)]."""
    layers = []
    for i in range(num_layers):
        d1, d2 = in_dim if i == 0 else mlp_dim, out_dim if i == num_layers - 1 else mlp_dim
        layers.append(nn.Linear(d1, d2, bias=False))
        if i < num_layers - 1:
            layers += [nn.BatchNorm1d(d2), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(d2, affine=False))
    return nn.Sequential(*layers)


def _randomise_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.)
    return module


def _official(kind):
    torch.manual_seed(0)
    if kind == 'vit':
        base = timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2,
                                                                num_heads=2, mlp_ratio=2., num_classes=10)
        base.head = _official_mlp(3, 32, 64, 16)
        predictor = _official_mlp(2, 16, 64, 16)
    else:
        base = torchvision.models.resnet18()
        base.fc = _official_mlp(2, 512, 64, 16)
        predictor = _official_mlp(2, 16, 64, 16, last_bn=False)
    momentum = copy.deepcopy(base)
    with torch.no_grad():
        for p in momentum.parameters():
            p.add_(0.1)                          # the momentum encoder differs from the online one
    for m in (base, momentum, predictor):
        _randomise_bn(m).eval()
    sd = {f'module.{name}.{k}': v for name, m in (('base_encoder', base), ('momentum_encoder', momentum),
                                                    ('predictor', predictor)) for k, v in m.state_dict().items()}
    return {'epoch': 300, 'arch': 'vit_small' if kind == 'vit' else 'resnet50', 'state_dict': sd,
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1}]}}, base, momentum, predictor


def _fovea_cfg(kind):
    if kind == 'vit':
        backbone = dict(type='MoCoV3ViT', arch=TINY_ARCH, img_size=32, patch_size=8, stop_grad_conv1=True)
        neck = dict(type='NonLinearNeck', in_channels=32, hid_channels=64, out_channels=16, num_layers=3,
                    with_last_bn_affine=False, with_avg_pool=False, norm_cfg=BN1D)
    else:
        backbone = dict(type='ResNet', depth=18)
        neck = dict(type='NonLinearNeck', in_channels=512, hid_channels=64, out_channels=16, num_layers=2,
                    with_last_bn_affine=False, norm_cfg=BN1D)
    predictor = dict(type='NonLinearNeck', in_channels=16, hid_channels=64, out_channels=16, num_layers=2,
                     with_last_bn=kind == 'vit', with_last_bn_affine=False, with_avg_pool=False, norm_cfg=BN1D)
    return dict(type='MoCoV3', backbone=backbone, neck=neck,
                head=dict(type='MoCoV3Head', predictor=predictor, temperature=0.2,
                          loss=dict(type='CrossEntropyLoss', loss_weight=0.4)))


def _features(kind, official, x):
    if kind == 'vit':
        return official.forward_features(x)[:, 0]
    body = nn.Sequential(*list(official.children())[:-1])     # up to the average pool
    return body(x).flatten(1)


@pytest.mark.parametrize('kind', ['vit', 'resnet'])
def test_loads_every_tensor_into_mocov3_with_the_official_outputs(kind, tmp_path):
    ckpt, base, momentum, predictor = _official(kind)
    torch.save(ckpt, tmp_path / 'official.pth.tar')
    model = build(_fovea_cfg(kind), MODELS)
    model.init_weights()
    report = load_weights(model, tmp_path / 'official.pth.tar')
    assert report.source == 'mocov3'
    assert not report.missing and not report.unexpected and not report.mismatched, report
    model.eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        feat = model.backbone(x)[-1]
        feat = feat.mean((2, 3)) if feat.ndim == 4 else feat
        torch.testing.assert_close(feat, _features(kind, base, x), atol=1e-5, rtol=1e-4)
        z = model.neck((model.backbone(x)[-1],))[0]
        torch.testing.assert_close(z, base.fc(feat) if kind == 'resnet' else base.head(feat), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model.head.predictor([z])[0], predictor(z), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model.momentum_encoder(x)[0],
                                   (momentum.fc if kind == 'resnet' else momentum.head)(_features(kind, momentum, x)),
                                   atol=1e-5, rtol=1e-4)
    # the momentum encoder counts as averaged: a first training step does not overwrite it with the online one
    assert model.momentum_encoder.num_updates() == 1
    kept = [p.clone() for p in model.momentum_encoder.parameters()]
    model.train().loss([x, x])
    assert all(torch.equal(a, b) for a, b in zip(kept, model.momentum_encoder.parameters()))


@pytest.mark.parametrize('kind', ['vit', 'resnet'])
def test_backbone_only_into_a_classifier_and_a_bare_backbone(kind, tmp_path):
    ckpt, base, _, _ = _official(kind)
    torch.save(ckpt, tmp_path / 'official.pth.tar')
    bb_cfg = _fovea_cfg(kind)['backbone']
    head = (dict(type='VisionTransformerClsHead', num_classes=10, in_channels=32) if kind == 'vit'
            else dict(type='LinearClsHead', num_classes=10, in_channels=512))
    neck = None if kind == 'vit' else dict(type='GlobalAveragePooling')
    clf = build(dict(type='ImageClassifier', backbone=bb_cfg, neck=neck, head=head), MODELS).eval()
    report = load_weights(clf, tmp_path / 'official.pth.tar')
    assert report.source == 'mocov3' and all(k.startswith('head.') for k in report.missing), report.missing
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(clf.extract_feat(x, stage='neck' if neck else 'backbone')[-1],
                                   _features(kind, base, x), atol=1e-5, rtol=1e-4)
    bare = build(bb_cfg, MODELS)
    report = load_weights(bare, tmp_path / 'official.pth.tar', strict=True)
    assert report.source == 'mocov3'


def test_fovea_convert_then_a_downstream_init_cfg_loads_the_backbone(tmp_path):
    ckpt, base, _, _ = _official('vit')
    torch.save(ckpt, tmp_path / 'official.pth.tar')
    (tmp_path / 'mocov3_tiny.py').write_text(f'model = {_fovea_cfg("vit")!r}\n')
    report = convert_checkpoint(tmp_path / 'official.pth.tar', tmp_path / 'fovea.pth', str(tmp_path / 'mocov3_tiny.py'))
    assert report.source == 'mocov3' and not report.missing
    bb_cfg = dict(_fovea_cfg('vit')['backbone'],
                  init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'fovea.pth'), prefix='backbone.'))
    clf = build(dict(type='ImageClassifier', backbone=bb_cfg,
                     head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=32)), MODELS)
    clf.init_weights()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(clf.eval().extract_feat(x)[-1], _features('vit', base.eval(), x), atol=1e-5, rtol=1e-4)

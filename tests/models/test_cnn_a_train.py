"""CNN zoo A: every family builds from its shipped model config and trains a step; backbone options
(out_indices, frozen_stages, norm_eval, drop path) and input errors."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones import VGG, DenseNet, GoogLeNet, InceptionV3, ResNet, ResNet_CIFAR, ResNetV1d, ResNeXt
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

from cnn_a_helpers import plain_cpu_kernels

TWO_STAGES = dict(backbone=dict(num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(1,)),
                  head=dict(in_channels=512))
# base config, input size, model overrides (fewer stages or smaller depths where the family allows, to keep
# the step cheap; every block type still runs)
FAMILIES = [
    ('alexnet.py', 64, {}),
    ('vgg11bn.py', 32, {}),
    ('googlenet.py', 32, {}),
    ('inception_v3.py', 75, {}),
    ('resnet18.py', 32, {}),
    ('resnetv1c50.py', 32, dict(backbone=dict(depth=18), head=dict(in_channels=512))),
    ('resnetv1d50.py', 32, dict(backbone=dict(depth=34), head=dict(in_channels=512))),
    ('resnet18_cifar.py', 32, {}),
    ('resnext50_32x4d.py', 32, TWO_STAGES),
    ('seresnet50.py', 32, TWO_STAGES),
    ('seresnext50_32x4d.py', 32, TWO_STAGES),
    ('densenet/densenet121.py', 32, dict(backbone=dict(arch=dict(growth_rate=8, depths=[2, 2, 2, 2],
                                                                 init_channels=16)), head=dict(in_channels=32))),
]


@pytest.mark.parametrize('base,size,overrides', FAMILIES, ids=[f[0].rsplit('/', 1)[-1][:-3] for f in FAMILIES])
def test_builds_from_config_and_trains_a_step(base, size, overrides):
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    for k, v in overrides.items():
        cfg[k].update(v)
    if cfg['head']['type'] == 'ClsHead':  # the classifier lives in the backbone (MMPretrain's layout)
        cfg['backbone']['num_classes'] = 5
    else:
        cfg['head']['num_classes'] = 5
    model = build_model_from_cfg(cfg).train()
    grouped = cfg['backbone'].get('groups', 1) > 1  # oneDNN's grouped convolutions beat the plain kernels
    with contextlib.nullcontext() if grouped else plain_cpu_kernels():
        _train_step(model, size)


def _train_step(model: nn.Module, size: int) -> None:
    data = {'inputs': torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8),
            'data_samples': [DataSample().set_gt_label(i % 5) for i in range(2)]}
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    params = [(k, p) for k, p in model.named_parameters()]
    batch = model.data_preprocessor(data, True)
    losses = model(**batch, mode='loss')
    loss = losses['loss']
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    no_grad = [k for k, p in params if p.requires_grad and p.grad is None]
    assert not no_grad, f'parameters without gradient: {no_grad[:5]}'
    # zero-initialised residual norms block the gradient to the rest of their branch at the first step
    live = [k for k, p in params if p.grad is not None and p.grad.abs().sum() > 0]
    assert params[0][0] in live and params[-1][0] in live  # the gradient reaches the stem and the classifier
    where = {k: int(p.grad.abs().argmax()) for k, p in params if k in live}
    probe = {k: p.detach().flatten()[where[k]].item() for k, p in params if k in live}
    optim.step()
    stale = [k for k, p in params if k in live and p.detach().flatten()[where[k]].item() == probe[k]]
    assert not stale, f'parameters with a gradient that the step did not change: {stale[:5]}'
    model.eval()
    with torch.no_grad():
        preds = model(model.data_preprocessor(data, False)['inputs'], mode='predict')
    assert len(preds) == 2 and preds[0].pred_score.shape == (5,)


@pytest.mark.parametrize('backbone,size,channels', [
    (ResNet(18, out_indices=(0, 1, 2, 3)), 64, [(64, 16), (128, 8), (256, 4), (512, 2)]),
    (ResNet_CIFAR(50, out_indices=(0, 3)), 32, [(256, 32), (2048, 4)]),
    (VGG(11, out_indices=(0, 2, 4)), 64, [(64, 32), (256, 8), (512, 2)]),
    (GoogLeNet(out_indices=(0, 1, 2, 3)), 64, [(192, 16), (480, 8), (832, 4), (1024, 2)]),
    (DenseNet('121', out_indices=(0, 1, 2, 3)), 64, [(128, 8), (256, 4), (512, 2), (1024, 2)]),
    (InceptionV3(num_classes=-1), 80, [(2048, 1)]),
], ids=['resnet18', 'resnet50_cifar', 'vgg11', 'googlenet', 'densenet121', 'inception_v3'])
def test_multi_scale_outputs(backbone, size, channels):
    with torch.no_grad():
        outs = backbone.eval()(torch.randn(1, 3, size, size))
    assert [(o.shape[1], o.shape[-1]) for o in outs] == channels


def _bn_stats_frozen(module: nn.Module) -> bool:
    return all(not m.training for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def test_frozen_stages_and_norm_eval():
    net = ResNetV1d(depth=18, frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert _bn_stats_frozen(net) and net.layer2.training  # norm_eval freezes statistics, not the modules
    mean = net.layer3[0].bn1.running_mean.clone()
    net(torch.randn(2, 3, 32, 32))
    assert torch.equal(mean, net.layer3[0].bn1.running_mean)

    vgg = VGG(11, norm_cfg=dict(type='BN'), frozen_stages=2).train()
    frozen = [m for i in range(2) for j in range(*vgg.range_sub_modules[i]) for m in [vgg.features[j]]]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen)
    dense = DenseNet('121', frozen_stages=2).train()
    assert not any(p.requires_grad for p in dense.stages[1].parameters())
    assert all(p.requires_grad for p in dense.stages[2].parameters())
    g = GoogLeNet(frozen_stages=0, norm_eval=False).train()
    assert not any(p.requires_grad for p in g.conv3.parameters()) and g.inception3a.training


def test_zero_init_residual_and_drop_path():
    net = ResNet(50, drop_path_rate=0.1)
    net.init_weights()
    assert all(torch.all(b.bn3.weight == 0) for b in net.modules() if hasattr(b, 'bn3'))
    assert type(net.layer1[0].drop_path).__name__ == 'DropPath'
    pretrained = ResNet(18, init_cfg=dict(type='Pretrained', checkpoint='unused'))
    assert pretrained.zero_init_residual  # suppressed only when weights are loaded (init_weights not run here)


def test_resnext_and_se_block_shapes():
    net = ResNeXt(101, groups=32, width_per_group=8)
    assert net.layer1[0].conv2.groups == 32 and net.layer1[0].conv2.out_channels == 256
    se = MODELS.build(dict(type='SEResNeXt', depth=50, se_ratio=16))
    assert se.layer4[0].se_layer.conv1.conv.out_channels == 2048 // 16


def test_inception_aux_logits_in_training_only():
    net = InceptionV3(num_classes=7, aux_logits=True)
    assert net.AuxLogits(torch.randn(2, 768, 17, 17)).shape == (2, 7)  # the 17x17 grid of a 299 input
    aux, out = net.eval()(torch.randn(1, 3, 75, 75))  # (aux, out) as MMPretrain, aux None in eval mode
    assert aux is None and out.shape == (1, 7)
    with pytest.raises(ValueError, match='num_classes'):
        InceptionV3(num_classes=-1, aux_logits=True)


@pytest.mark.parametrize('cfg,match', [
    (dict(type='ResNet', depth=42), r'no depth 42; choose one of \[18, 34, 50, 101, 152\]'),
    (dict(type='ResNeXt', depth=18), r'ResNeXt has no depth 18'),
    (dict(type='ResNet_CIFAR', depth=18, deep_stem=True), 'deep_stem'),
    (dict(type='VGG', depth=12), 'VGG has no depth 12'),
    (dict(type='DenseNet', arch='122'), r"Unknown DenseNet arch '122'. Did you mean '121'"),
    (dict(type='ResNet', depth=18, num_stages=3), 'strides'),
])
def test_bad_arguments_name_the_fix(cfg, match):
    with pytest.raises(ConfigError, match=match):
        MODELS.build(cfg, key='backbone')


def test_channels_last_preference():
    for cls in (ResNet, VGG, DenseNet, GoogLeNet, InceptionV3):
        assert cls.prefers_channels_last

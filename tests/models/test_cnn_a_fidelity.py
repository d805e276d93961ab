"""CNN zoo A against the published figures: parameters (to 0.01 M) and GMACs (within 3%).

Models are built from their shipped model configs on the meta device: no memory, no initialisation,
and FlopCounterMode counts the shapes without computing anything.
"""
from __future__ import annotations

import pytest
import torch

from fovea.config import Config
from fovea.registry import MODELS
from fovea.tools.complexity import count_params, get_model_complexity

# base config, model overrides, input size, published params (M), published GMACs
TABLE = {
    'AlexNet': ('alexnet.py', {}, 224, 61.10, 0.714),
    'VGG-11': ('vgg11.py', {}, 224, 132.86, 7.609),
    'VGG-16-BN': ('vgg16bn.py', {}, 224, 138.37, 15.47),
    'GoogLeNet': ('googlenet.py', {}, 224, 6.62, 1.498),
    'Inception-v3': ('inception_v3.py', {}, 299, 23.83, 5.713),
    'ResNet-18': ('resnet18.py', {}, 224, 11.69, 1.814),
    'ResNet-34': ('resnet34.py', {}, 224, 21.80, 3.664),
    'ResNet-50': ('resnet50.py', {}, 224, 25.56, 4.089),
    'ResNet-101': ('resnet101.py', {}, 224, 44.55, 7.801),
    'ResNet-152': ('resnet152.py', {}, 224, 60.19, 11.514),
    'ResNet-18-CIFAR': ('resnet18_cifar.py', {}, 32, 11.17, 0.555),
    'ResNet-50-CIFAR': ('resnet50_cifar.py', {}, 32, 23.52, 1.298),
    'ResNeXt-50-32x4d': ('resnext50_32x4d.py', {}, 224, 25.03, 4.23),
    'SE-ResNet-50': ('seresnet50.py', {}, 224, 28.09, 4.092),
    'DenseNet-121': ('densenet/densenet121.py', {}, 224, 7.98, 2.834),
}
# further variants whose parameter counts MMPretrain publishes
EXTRA_PARAMS = {
    'VGG-13': ('vgg13.py', 133.05), 'VGG-16': ('vgg16.py', 138.36), 'VGG-19': ('vgg19.py', 143.67),
    'VGG-11-BN': ('vgg11bn.py', 132.87), 'VGG-19-BN': ('vgg19bn.py', 143.68),
    'ResNetV1c-50': ('resnetv1c50.py', 25.58), 'ResNetV1d-101': ('resnetv1d101.py', 44.57),
    'ResNet-34-CIFAR': ('resnet34_cifar.py', 21.28), 'ResNet-101-CIFAR': ('resnet101_cifar.py', 42.51),
    'ResNeXt-101-32x8d': ('resnext101_32x8d.py', 88.79), 'ResNeXt-152-32x4d': ('resnext152_32x4d.py', 59.95),
    'SE-ResNet-101': ('seresnet101.py', 49.33),
    'DenseNet-161': ('densenet/densenet161.py', 28.68), 'DenseNet-169': ('densenet/densenet169.py', 14.15),
    'DenseNet-201': ('densenet/densenet201.py', 20.01),
}


def _meta_model(base: str) -> torch.nn.Module:
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    with torch.device('meta'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('name', list(TABLE))
def test_params_and_macs_match_published(name):
    base, _, size, params_m, gmacs = TABLE[name]
    model = _meta_model(base)
    result = get_model_complexity(model, (3, size, size))
    assert round(result['params'] / 1e6, 2) == params_m
    assert abs(result['macs'] / 1e9 - gmacs) / gmacs < 0.03, result['macs'] / 1e9


@pytest.mark.parametrize('name', list(EXTRA_PARAMS))
def test_params_of_other_variants(name):
    base, params_m = EXTRA_PARAMS[name]
    assert round(count_params(_meta_model(base)) / 1e6, 2) == params_m


def test_zoo_entries_agree_with_counts():
    """The index's params/GMACs are what fovea counts for its config (spot check, cheap models)."""
    from fovea.tools.flops_table import build_for_counting
    from fovea.zoo import find_entry
    for name in ('resnet18_8xb16_cifar10', 'googlenet_8xb32_in1k'):
        entry = find_entry(name)
        model, shape = build_for_counting(name)
        result = get_model_complexity(model, shape)
        assert round(result['params'] / 1e6, 2) == entry['params_m']
        assert round(result['macs'] / 1e9, 3) == entry['flops_g']


def test_every_shipped_recipe_loads_and_builds():
    """The ImageNet/CIFAR recipes resolve their whole `_base_` chain (model, dataset, schedule, runtime)."""
    from fovea.zoo import model_index
    families = ('resnet/', 'resnext/', 'seresnet/', 'vgg/', 'densenet/', 'inception_v3/', 'googlenet/', 'alexnet/')
    entries = [e for e in model_index().values() if e['config'].startswith(families)]
    assert len(entries) == 41
    for e in entries:
        cfg = Config.fromfile(e['config'])
        for key in ('model', 'train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
            assert key in cfg, f"{e['config']} lacks {key}"
        with torch.device('meta'):
            model = MODELS.build(cfg.to_dict()['model'])
        assert round(count_params(model) / 1e6, 2) == e['params_m'], e['name']

"""CNN zoo B fidelity: parameter counts and multiply-accumulates against the published figures.

Models are built on the meta device (no memory, no initialisation cost); FlopCounterMode counts
a meta forward pass at 224x224 just as it counts a real one.
"""
from __future__ import annotations

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones import ConvNeXt, EfficientNet, MobileNetV3, RepVGG
from fovea.tools.complexity import count_params, get_model_complexity
from fovea.utils.errors import ConfigError


def _build(base: str, **backbone):
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    cfg['backbone'].update(backbone)
    with torch.device('meta'):
        return build_model_from_cfg(cfg)


# base config, backbone overrides, published params (M, 2 decimals), published GMACs at 224px (or None)
PUBLISHED = [
    ('mobilenet_v2_1x.py', {}, 3.50, 0.301),
    ('mobilenet_v3/mobilenet_v3_small_imagenet.py', {}, 2.54, 0.057),
    ('mobilenet_v3/mobilenet_v3_large_imagenet.py', {}, 5.48, 0.217),
    ('shufflenet_v1_1x.py', {}, 1.87, None),
    ('shufflenet_v2_1x.py', {}, 2.28, 0.145),
    ('repvgg-A0_in1k.py', {}, 9.11, 1.513),
    ('repvgg-A0_in1k.py', dict(deploy=True), 8.31, 1.361),
    ('convnext/convnext-tiny.py', {}, 28.59, 4.456),
    ('convnext_v2.py', {}, 3.71, 0.552),                 # ConvNeXt V2-atto (GRN); MMPretrain: 3,708,400, 0.552 GFLOPs
    ('efficientnet_b0.py', {}, 5.29, 0.386),
]


@pytest.mark.parametrize('base,backbone,params_m,gmacs', PUBLISHED,
                         ids=[f'{p[0]}{"-deploy" if p[1] else ""}' for p in PUBLISHED])
def test_published_params_and_macs(base, backbone, params_m, gmacs):
    model = _build(base, **backbone)
    result = get_model_complexity(model, (3, 224, 224))
    assert round(result['params'] / 1e6, 2) == params_m
    if gmacs is not None:
        assert abs(result['macs'] / 1e9 - gmacs) / gmacs < 0.03, result['macs'] / 1e9


# exact parameter counts of MMPretrain's model index (1000 classes; RepVGG in its deploy form)
EXACT = [
    ('repvgg-A0_in1k.py', dict(arch='A1', deploy=True), 1280, 12789864),
    ('repvgg-A0_in1k.py', dict(arch='A2', deploy=True), 1408, 25499944),
    ('repvgg-A0_in1k.py', dict(arch='B1', deploy=True), 2048, 51829480),
    ('repvgg-A0_in1k.py', dict(arch='B1g2', deploy=True), 2048, 41360104),
    ('repvgg-A0_in1k.py', dict(arch='B1g4', deploy=True), 2048, 36125416),
    ('repvgg-A0_in1k.py', dict(arch='B2', deploy=True), 2560, 80315112),
    ('repvgg-A0_in1k.py', dict(arch='B2g4', deploy=True), 2560, 55777512),
    ('repvgg-A0_in1k.py', dict(arch='B3', deploy=True), 2560, 110960872),
    ('repvgg-A0_in1k.py', dict(arch='B3g4', deploy=True), 2560, 75626728),
    ('repvgg-A0_in1k.py', dict(arch='D2se', deploy=True), 2560, 120387572),
    ('convnext/convnext-tiny.py', dict(arch='small'), 768, 50223688),
    ('convnext/convnext-tiny.py', dict(arch='base'), 1024, 88591464),
    ('convnext/convnext-tiny.py', dict(arch='large'), 1536, 197767336),
    ('efficientnet_b1.py', {}, None, 7794184),
    ('efficientnet_b2.py', {}, None, 9109994),
    ('efficientnet_b3.py', {}, None, 12233232),
    ('efficientnet_b4.py', {}, None, 19341616),
    ('efficientnet_b5.py', {}, None, 30389784),
    ('efficientnet_b6.py', {}, None, 43040704),
    ('efficientnet_b7.py', {}, None, 66347960),
]


@pytest.mark.parametrize('base,backbone,head_in,params', EXACT,
                         ids=[f'{p[0].split("/")[-1][:-3]}-{p[1].get("arch", "")}' for p in EXACT])
def test_variant_params_exact(base, backbone, head_in, params):
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    cfg['backbone'].update(backbone)
    if head_in is not None:
        cfg['head']['in_channels'] = head_in
    with torch.device('meta'):
        model = build_model_from_cfg(cfg)
    assert count_params(model) == params


def test_widths_follow_multipliers():
    with torch.device('meta'):
        from fovea.models.backbones import MobileNetV2, ShuffleNetV1, ShuffleNetV2
        # MobileNetV2 1.4x widens the last conv; ShuffleNetV2 2.0x ends in 2048 channels
        assert MobileNetV2(widen_factor=1.4).conv2.conv.out_channels == 1792
        assert MobileNetV2(widen_factor=0.5).conv2.conv.out_channels == 1280
        assert ShuffleNetV2(widen_factor=2.0).layers[3].conv.out_channels == 2048
        for groups, width in [(1, 576), (2, 800), (4, 1088), (8, 1536)]:
            net = ShuffleNetV1(groups=groups)
            assert net.layers[2][-1].g_conv_1x1_expand.conv.out_channels == width
        assert ShuffleNetV1(groups=3, widen_factor=0.5).layers[2][-1].g_conv_1x1_expand.conv.out_channels == 480
        # EfficientNet-B7: 2.0x width, 3.1x depth -> 55 MBConv blocks, 2560 head channels
        b7 = EfficientNet('b7')
        assert b7.out_channels == (2560,) and sum(len(layer) for layer in b7.layers[1:-1]) == 55


@pytest.mark.parametrize('cls,kwargs,fragment', [
    (MobileNetV3, dict(arch='larg'), "did you mean 'large'"),
    (RepVGG, dict(arch='B1g3'), 'B1g2'),
    (ConvNeXt, dict(arch='tinny'), "'tiny'"),
    (EfficientNet, dict(arch='b9'), 'b0'),
])
def test_unknown_arch_names_the_choices(cls, kwargs, fragment):
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    assert fragment in str(err.value).lower() or fragment in str(err.value)

"""Every backbone keeps the BaseBackbone contract: the widths and reductions it declares are those of
the outputs it returns, for every selectable output; forward_features, get_model(features_only=True),
frozen_stages/norm_eval through train(), and ResNet's get_layer_depth (MMPretrain's numbering)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import fovea.models.backbones as backbones
from fovea.models.backbones.base import BaseBackbone
from fovea.registry import MODELS

_TINY_VIT = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
#: a small build of every registered backbone type, with every output it can return, and an input size
CASES: dict[str, tuple[dict, int]] = {
    'AlexNet': (dict(), 224),
    'LeNet5': (dict(), 32),
    'VGG': (dict(depth=11, out_indices=(0, 1, 2, 3, 4)), 64),
    'GoogLeNet': (dict(out_indices=(0, 1, 2, 3)), 64),
    'InceptionV3': (dict(num_classes=-1), 139),
    'DenseNet': (dict(arch='121', out_indices=(0, 1, 2, 3)), 64),
    'EfficientNet': (dict(arch='b0', out_indices=tuple(range(7))), 64),
    'MobileNetV2': (dict(widen_factor=0.5, out_indices=tuple(range(8))), 64),
    'MobileNetV3': (dict(arch='small', out_indices=tuple(range(13))), 64),
    'MobileViT': (dict(arch='xx_small', out_indices=(0, 1, 2, 3, 4)), 64),
    'RepVGG': (dict(arch='A0', out_indices=(0, 1, 2, 3)), 64),
    'ResNet': (dict(depth=18, out_indices=(0, 1, 2, 3)), 64),
    'ResNetV1c': (dict(depth=18, out_indices=(0, 1, 2, 3)), 64),
    'ResNetV1d': (dict(depth=18, out_indices=(0, 1, 2, 3)), 64),
    'ResNet_CIFAR': (dict(depth=18, out_indices=(0, 1, 2, 3)), 32),
    'RegNet': (dict(arch='regnetx_400mf', out_indices=(0, 1, 2, 3)), 64),
    'ResNeXt': (dict(depth=50, groups=4, width_per_group=4, base_channels=16, stem_channels=16,
                     out_indices=(0, 1, 2, 3)), 64),
    'CSPDarkNet': (dict(depth=53, out_indices=(0, 1, 2, 3, 4), frozen_stages=0), 64),
    'CSPResNet': (dict(depth=50, out_indices=(0, 1, 2, 3)), 64),
    'CSPResNeXt': (dict(depth=50, out_indices=(0, 1, 2, 3)), 64),
    'Res2Net': (dict(depth=50, stem_channels=16, base_channels=16, out_indices=(0, 1, 2, 3)), 64),
    'ResNeSt': (dict(depth=50, stem_channels=16, base_channels=16, out_indices=(0, 1, 2, 3)), 64),
    'SEResNet': (dict(depth=50, base_channels=16, stem_channels=16, out_indices=(0, 1, 2, 3)), 64),
    'SEResNeXt': (dict(depth=50, groups=4, width_per_group=4, base_channels=16, stem_channels=16,
                       out_indices=(0, 1, 2, 3)), 64),
    'ShuffleNetV1': (dict(out_indices=(0, 1, 2)), 64),
    'ShuffleNetV2': (dict(widen_factor=0.5, out_indices=(0, 1, 2, 3)), 64),
    'ConvNeXt': (dict(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]), gap_before_final_norm=False,
                      out_indices=(0, 1, 2, 3)), 64),
    'SwinTransformer': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]), img_size=64,
                             window_size=2, out_indices=(0, 1, 2, 3)), 64),
    'VisionTransformer': (dict(arch=_TINY_VIT, img_size=32, patch_size=8, out_type='featmap',
                               out_indices=(0, 1)), 32),
    'DistilledVisionTransformer': (dict(arch=_TINY_VIT, img_size=32, patch_size=8, out_type='featmap',
                                        out_indices=(0, 1)), 32),
    'MoCoV3ViT': (dict(arch=_TINY_VIT, img_size=32, patch_size=8, out_type='featmap', out_indices=(0, 1),
                       stop_grad_conv1=True), 32),
    'BEiTViT': (dict(arch=_TINY_VIT, img_size=32, patch_size=8, out_type='featmap', out_indices=(0, 1)), 32),
    'SparseResNet': (dict(depth=18, out_indices=(0, 1, 2, 3)), 64),
    'MixMIMTransformer': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]), img_size=64,
                               window_size=[4, 4, 4, 2]), 64),
    'SparseConvNeXt': (dict(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]), gap_before_output=False,
                            out_indices=(0, 1, 2, 3)), 64),
    'PoolFormer': (dict(arch=dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 32, 64]), out_indices=tuple(range(7))), 64),
    'RIFormer': (dict(arch=dict(layers=[1, 1, 1, 1], embed_dims=[8, 16, 32, 64]), out_indices=(0, 2, 4, 6)), 64),
    'MobileOne': (dict(arch=dict(num_blocks=[1, 1, 2, 1], width_factor=[0.25, 0.25, 0.25, 0.25],
                                 num_conv_branches=[2, 1, 1, 1], num_se_blocks=[0, 0, 1, 1]),
                       out_indices=(0, 1, 2, 3), frozen_stages=1), 64),
    'RepLKNet': (dict(arch=dict(large_kernel_sizes=[5, 5, 3, 3], layers=[1, 1, 1, 1], channels=[8, 8, 16, 16],
                                small_kernel=3, dw_ratio=1), out_indices=(0, 1, 2, 3), frozen_stages=1), 64),
    'HRNet': (dict(extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1,), num_channels=(8,)),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1), num_channels=(4, 8)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1), num_channels=(4, 8, 16)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(4, 8, 16, 32)))), 64),
    'ConvMixer': (dict(arch=dict(embed_dims=16, depth=2, patch_size=4, kernel_size=3), out_indices=(0, 1)), 32),
    'VAN': (dict(arch='tiny', out_indices=(0, 1, 2, 3)), 64),
    'MlpMixer': (dict(arch=dict(embed_dims=32, num_layers=2, tokens_mlp_dims=16, channels_mlp_dims=64), img_size=32,
                      patch_size=8, out_indices=(0, 1)), 32),
    'DeiT3': (dict(arch=_TINY_VIT, img_size=32, patch_size=8, out_type='featmap', out_indices=(0, 1)), 32),
    'HiViT': (dict(arch=dict(embed_dims=32, depths=[1, 1, 2], num_heads=2), img_size=64, rpe=True,
                   out_indices=(0, 1)), 64),
    'XCiT': (dict(embed_dims=32, depth=2, num_heads=4, cls_attn_layers=1, patch_size=8, out_type='featmap',
                  out_indices=(0, 1, 2)), 32),
    'EfficientNetV2': (dict(arch='b0', out_indices=tuple(range(8))), 64),
    'SwinTransformerV2': (dict(arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
                                         extra_norm_every_n_blocks=0), img_size=64, window_size=[4, 4, 4, 2],
                               out_indices=(0, 1, 2, 3)), 64),
    'LeViT': (dict(arch=dict(embed_dims=[32, 48, 64], num_heads=[2, 3, 4], depths=[1, 1, 1], key_dims=[8, 8, 8]),
                   img_size=64, out_indices=(0, 1, 2)), 64),
}


def _registered_backbones() -> list[str]:
    return sorted(n for n in backbones.__all__ if isinstance(getattr(backbones, n), type)
                  and issubclass(getattr(backbones, n), BaseBackbone) and getattr(backbones, n) is not BaseBackbone)


def test_every_backbone_type_has_a_case():
    assert set(_registered_backbones()) == set(CASES)


def _check(net: BaseBackbone, outs, size: int) -> None:
    assert len(outs) == len(net.out_indices) == len(net.out_channels) == len(net.feature_info)
    for out, info in zip(outs, net.feature_info):
        what = f'{type(net).__name__} output {info["index"]}'
        assert out.shape[1] == info['num_chs'], f'{what}: {tuple(out.shape)} but declares {info["num_chs"]} channels'
        if info['reduction'] is not None:
            assert out.ndim == 4, what
            want = size / info['reduction']
            assert math.floor(want) - 1 <= out.shape[-1] <= math.ceil(want), \
                f'{what}: {out.shape[-1]} px from {size} px, declared reduction {info["reduction"]}'


@pytest.mark.parametrize('name', sorted(CASES))
def test_declared_widths_and_reductions_match_the_outputs(name):
    kwargs, size = CASES[name]
    torch.manual_seed(0)
    net = MODELS.build(dict(type=name, **kwargs)).eval()
    assert isinstance(net, BaseBackbone)
    x = torch.randn(1, 3, size, size) if name != 'LeNet5' else torch.randn(1, 1, size, size)
    with torch.no_grad():
        outs = net(x)
        _check(net, outs, size)
        # the features API gives any selectable subset, equal to the full forward's outputs
        pick = net.selectable_indices[-1:] if len(net.selectable_indices) < len(net.stage_channels) \
            else net.selectable_indices[::2]
        feats = net.forward_features(x, pick)
        assert len(feats) == len(pick)
        for i, f in zip(pick, feats):
            torch.testing.assert_close(f, outs[list(net.out_indices).index(i)])
    assert tuple(net.out_indices) == tuple(kwargs.get('out_indices', net.out_indices))  # restored


def test_forward_features_names_the_fix_for_outputs_that_were_not_built():
    net = MODELS.build(dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
                            out_indices=(3,)))
    with pytest.raises(ValueError, match='build it with out_indices'):
        net.forward_features(torch.randn(1, 3, 32, 32), [0, 3])
    res = MODELS.build(dict(type='ResNet', depth=18))
    feats = res.forward_features(torch.randn(1, 3, 64, 64), indices=(0, -1))
    assert [f.shape[1] for f in feats] == [64, 512] and res.out_indices == (3,)


def test_get_model_features_only(tmp_path):
    from fovea import get_model
    full = get_model('resnet18_8xb32_in1k')
    torch.save(full.state_dict(), tmp_path / 'r18.pth')
    net = get_model('resnet18_8xb32_in1k', pretrained=str(tmp_path / 'r18.pth'), features_only=True,
                    out_indices=(0, 1, 2, 3))
    for k, v in net.state_dict().items():  # the checkpoint's weights, loaded through the whole model
        assert torch.equal(v, full.state_dict()['backbone.' + k]), k
    assert isinstance(net, BaseBackbone) and net.out_channels == (64, 128, 256, 512)
    assert [i['reduction'] for i in net.feature_info] == [4, 8, 16, 32]
    outs = net(torch.randn(1, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
    vgg = get_model('vgg11_8xb32_in1k', features_only=True, out_indices=(2, 4))
    assert vgg.num_classes == -1 and vgg.out_channels == (256, 512)  # the built-in classifier is left out


def test_train_keeps_frozen_stages_and_norm_eval():
    net = MODELS.build(dict(type='ResNet', depth=18, frozen_stages=1, norm_eval=True))
    net.train()
    assert not any(p.requires_grad for p in net.layer1.parameters()) and net.layer1.training is False
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_mobilevit_default_freezes_nothing():
    net = MODELS.build(dict(type='MobileViT', arch='xx_small')).train()  # frozen_stages=-1 froze 4 of 5 stages
    assert all(p.requires_grad for p in net.parameters())
    assert not any(p.requires_grad for p in MODELS.build(dict(type='MobileViT', arch='xx_small', frozen_stages=2))
                   .train().layers[:2].parameters())


def test_resnet_get_layer_depth_is_mmpretrains():
    r50 = MODELS.build(dict(type='ResNet', depth=50))
    depth = lambda name: r50.get_layer_depth(name, 'backbone.')  # noqa: E731
    assert depth('backbone.conv1.weight') == (0, 8)
    assert depth('backbone.layer1.2.conv1.weight') == (1, 8)
    assert [depth(f'backbone.layer2.{b}.conv1.weight')[0] for b in range(4)] == [2, 2, 3, 3]
    assert [depth(f'backbone.layer3.{b}.conv1.weight')[0] for b in range(6)] == [4, 4, 4, 5, 5, 5]
    assert depth('backbone.layer4.0.conv1.weight') == (6, 8)
    assert depth('head.fc.weight') == (7, 8)
    r18 = MODELS.build(dict(type='ResNet', depth=18))  # no MMPretrain grouping: one id per block of stages 2-3
    assert [r18.get_layer_depth(f'layer{s}.{b}.conv1.weight')[0] for s in (2, 3) for b in (0, 1)] == [2, 3, 4, 5]
    # the layer-decay constructor now accepts ResNet
    from fovea.engine.optim_constructor import build_optim_wrapper
    model = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
                              neck=dict(type='GlobalAveragePooling'),
                              head=dict(type='LinearClsHead', num_classes=3, in_channels=512)))
    ow = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=1.0),
                                         constructor='LearningRateDecayOptimWrapperConstructor',
                                         paramwise_cfg=dict(layer_decay_rate=0.5)), 'fp32', 'cpu')
    lrs = {g['lr'] for g in ow.param_groups}
    assert max(lrs) == 1.0 and min(lrs) == pytest.approx(0.5 ** 7)

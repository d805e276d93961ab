"""Arguments, defaults and blocks that MMPretrain users call directly (issue 22 items 4 and 6)."""
import pytest
import torch
from torch import nn

from fovea.models.backbones import InceptionV3, RepVGG, SwinTransformer, VisionTransformer
from fovea.models.backbones.mobilenet_v2 import InvertedResidual as MobileNetV2Block
from fovea.models.backbones.mobilenet_v2 import MobileNetV2
from fovea.models.backbones.resnet import BasicBlock, Bottleneck, ResLayer, get_expansion
from fovea.models.backbones.seresnet import SEBottleneck, SEResNet
from fovea.models.backbones.shufflenet_v2 import InvertedResidual as ShuffleBlock
from fovea.models.backbones.shufflenet_v2 import ShuffleV2Block
from fovea.models.losses import CrossEntropyLoss, LabelSmoothLoss
from fovea.models.necks import GeneralizedMeanPooling
from fovea.utils.errors import ConfigError

SMALL_SWIN = dict(embed_dims=16, depths=[1, 1], num_heads=[1, 1])


def test_gem_learns_p_by_default():
    assert GeneralizedMeanPooling().p.requires_grad
    assert not GeneralizedMeanPooling(p_trainable=False).p.requires_grad


def test_inception_v3_returns_aux_and_out():
    net = InceptionV3(num_classes=4).eval()
    with torch.no_grad():
        aux, out = net(torch.randn(1, 3, 75, 75))
    assert aux is None and out.shape == (1, 4)
    assert len(InceptionV3(num_classes=-1).eval()(torch.randn(1, 3, 75, 75))) == 1  # feature mode


def test_repvgg_add_ppf_and_arch_forms():
    net = RepVGG('A0', add_ppf=True).eval()
    assert sum(k.startswith('ppf.') for k in net.state_dict()) == 12  # conv1/conv2: conv + 5 BN entries
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64))[0].shape == (1, 1280, 2, 2)
    assert isinstance(RepVGG('A0').ppf, nn.Identity)
    with pytest.raises(TypeError, match='list'):
        RepVGG([4, 6, 16, 1])
    with pytest.raises(KeyError, match='width_factor'):
        RepVGG(dict(num_blocks=[2, 4, 14, 1]))


def test_swin_refuses_a_window_larger_than_the_map():
    net = SwinTransformer(arch=SMALL_SWIN, window_size=12, out_indices=(1,))
    assert net(torch.randn(1, 3, 96, 96))[0].shape == (1, 32, 12, 12)
    with pytest.raises(AssertionError, match=r'smaller than the window size \(12\)'):
        net(torch.randn(1, 3, 64, 64))
    padded = SwinTransformer(arch=SMALL_SWIN, window_size=12, out_indices=(1,), pad_small_map=True)
    assert padded(torch.randn(1, 3, 64, 64))[0].shape == (1, 32, 8, 8)


def test_vit_refuses_dict_out_indices():
    with pytest.raises(ConfigError, match='out_indices must be an int or a sequence'):
        VisionTransformer(arch='deit-tiny', img_size=32, patch_size=16, out_indices={'a': 1})


def test_cross_entropy_refuses_sigmoid_with_soft():
    with pytest.raises(ConfigError, match='use_sigmoid=True and use_soft=True'):
        CrossEntropyLoss(use_sigmoid=True, use_soft=True)


def test_label_smooth_original_smooth_label():
    loss = LabelSmoothLoss(0.3, num_classes=3)
    torch.testing.assert_close(loss.original_smooth_label(torch.tensor([[1., 0., 0.]])),
                               torch.tensor([[0.8, 0.1, 0.1]]))
    ml = LabelSmoothLoss(0.1, mode='multi_label')
    torch.testing.assert_close(ml.multilabel_smooth_label(torch.tensor([[1., 0.]])), torch.tensor([[0.9, 0.1]]))


def test_get_expansion_and_res_layer_without_expansion():
    assert get_expansion(Bottleneck, 2) == 2
    assert get_expansion(BasicBlock) == 1 and get_expansion(Bottleneck) == 4 and get_expansion(SEBottleneck) == 4

    class Custom(nn.Module):
        expansion = 8
    assert get_expansion(Custom) == 8
    with pytest.raises(TypeError):
        get_expansion(Bottleneck, '0')
    with pytest.raises(TypeError):
        get_expansion(nn.Conv2d)
    layer = ResLayer(Bottleneck, 2, 32, 64, stride=2)
    assert layer.expansion == 4 and layer[0].mid_channels == 16
    assert layer(torch.randn(1, 32, 8, 8)).shape == (1, 64, 4, 4)


def test_se_bottleneck_and_seresnet_blocks():
    block = SEBottleneck(64, 64)
    assert block.se_layer is not None and block(torch.randn(1, 64, 8, 8)).shape == (1, 64, 8, 8)
    assert isinstance(SEResNet(50, num_stages=1, strides=(1,), dilations=(1,), out_indices=(0,)).layer1[0],
                      SEBottleneck)


def test_depth_errors_are_key_errors():
    from fovea.models.backbones import VGG, ResNet
    for build in (lambda: ResNet(20), lambda: VGG(18)):
        with pytest.raises(KeyError, match='no depth'):
            build()


def test_shufflenet_v2_inverted_residual_name():
    assert ShuffleBlock is ShuffleV2Block
    assert ShuffleBlock(24, 48, stride=2)(torch.randn(1, 24, 8, 8)).shape == (1, 48, 4, 4)
    with pytest.raises(AssertionError):
        ShuffleBlock(24, 32, stride=1)


def test_mobilenet_v2_block_signature():
    block = MobileNetV2Block(16, 24, stride=2, expand_ratio=6)
    assert block.depthwise_conv.conv.in_channels == 96 and not block.use_res_connect
    assert block(torch.randn(1, 16, 8, 8)).shape == (1, 24, 4, 4)
    assert MobileNetV2Block(16, 16, stride=1, expand_ratio=1).use_res_connect
    assert not MobileNetV2Block(16, 16, stride=1, expand_ratio=1).with_expand_conv
    with pytest.raises(AssertionError):
        MobileNetV2Block(16, 24, stride=3, expand_ratio=6)
    assert isinstance(MobileNetV2().layer2[0], MobileNetV2Block)


def test_classifier_reads_the_last_entry_of_inception_v3():
    from fovea.registry import MODELS
    from fovea.structures import DataSample
    model = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='InceptionV3', num_classes=4),
                              head=dict(type='ClsHead', loss=dict(type='CrossEntropyLoss'))))
    x, samples = torch.randn(2, 3, 75, 75), [DataSample().set_gt_label(1), DataSample().set_gt_label(3)]
    assert model.train()(x, samples, mode='loss')['loss'].ndim == 0
    with torch.no_grad():
        preds = model.eval()(x, samples, mode='predict')
    assert [p.pred_score.shape for p in preds] == [(4,), (4,)]


def test_block_attributes_and_assertion_types():
    from fovea.models.backbones.shufflenet_v1 import ShuffleUnit
    block = Bottleneck(64, 64, stride=2, style='caffe')
    assert (block.stride, block.expansion, block.style) == (2, 4, 'caffe')
    assert BasicBlock(8, 8, dilation=2).dilation == 2
    with pytest.raises(AssertionError, match="combine='add' needs in_channels == out_channels"):
        ShuffleUnit(64, 24, groups=4, first_block=True, combine='add')
    with pytest.raises(AssertionError, match='not in default archs'):
        SwinTransformer(arch='unknown')

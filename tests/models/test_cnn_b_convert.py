"""CNN zoo B weight conversion: a reference model (torchvision; timm when installed) with random
weights, converted and loaded into fovea's model built from its config, gives the same logits."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.convert import load_weights


def _calibrate(model: nn.Module, size: int) -> nn.Module:
    """Random BN affine parameters, running statistics measured on a batch, random layer scales:
    logits of order one, so that any conversion mistake shows above the 1e-4 tolerance."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.reset_running_stats()
            m.momentum = None
        for name in ('gamma', 'layer_scale'):  # ConvNeXt layer scale (1e-6 at init)
            p = getattr(m, name, None)
            if isinstance(p, nn.Parameter):
                p.data.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.5)
    model.train()
    x = torch.randn(16, 3, size, size, generator=g)
    with torch.no_grad():
        model(x)
        model.eval()
        scale = model(x).abs().max().item() / 10  # keep logits around 10 so 1e-4 stays a tight bound
        if scale > 1:
            classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
            classifier.weight.div_(scale)
            classifier.bias.div_(scale)
    return model


def _fovea(base: str, backbone: dict | None = None, head: dict | None = None) -> nn.Module:
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    cfg['backbone'].update(backbone or {})
    cfg['head'].update(head or {})
    cfg.pop('train_cfg', None)  # batch augments play no part in inference
    return build_model_from_cfg(cfg).eval()


def _check(ref: nn.Module, ours: nn.Module, source: str, size: int = 32) -> None:
    ref = _calibrate(ref, size)
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    assert report.source == source
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want, got = ref(x), ours(x, mode='tensor')
    assert got.shape == want.shape == (2, 1000)
    assert want.abs().max() > 0.05, 'reference logits too small for a meaningful comparison'
    assert (got - want).abs().max().item() < 1e-4


TV_EPS5 = dict(norm_cfg=dict(type='BN', eps=1e-5))
TORCHVISION = [
    ('mobilenet_v2', 'mobilenet_v2_1x.py', {}),
    ('mobilenet_v3_small', 'mobilenet_v3/mobilenet_v3_small_imagenet.py', {}),
    ('mobilenet_v3_large', 'mobilenet_v3/mobilenet_v3_large_imagenet.py', {}),
    ('shufflenet_v2_x1_0', 'shufflenet_v2_1x.py', {}),
    # torchvision pads symmetrically and uses BN eps 1e-5 up to B4
    ('efficientnet_b0', 'efficientnet_b0.py', dict(conv_cfg=None, **TV_EPS5)),
]


@pytest.mark.parametrize('name,base,backbone', TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_torchvision_equivalence(name, base, backbone):
    tvm = pytest.importorskip('torchvision.models')
    _check(getattr(tvm, name)(weights=None), _fovea(base, backbone), 'torchvision')


TIMM = [
    ('mobilenetv3_large_100', 'mobilenet_v3/mobilenet_v3_large_imagenet.py', TV_EPS5, {}),
    ('efficientnet_b0', 'efficientnet_b0.py', dict(conv_cfg=None, **TV_EPS5), {}),
    # TensorFlow ports: 'SAME' padding and eps 1e-3, which are fovea's (and MMPretrain's) defaults
    ('tf_efficientnet_b0', 'efficientnet_b0.py', {}, {}),
    ('repvgg_a0', 'repvgg-A0_in1k.py', {}, {}),
]


@pytest.mark.parametrize('name,base,backbone,head', TIMM, ids=[t[0] for t in TIMM])
def test_timm_equivalence(name, base, backbone, head):
    timm = pytest.importorskip('timm')
    _check(timm.create_model(name, pretrained=False), _fovea(base, backbone, head), 'timm')


# a small ConvNeXt (the same code paths as ConvNeXt-T at a fraction of the cost)
SMALL_CONVNEXT = dict(depths=[1, 1, 2, 1], channels=[16, 32, 64, 128])


def test_torchvision_convnext_equivalence():
    tvm = pytest.importorskip('torchvision.models')
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    d, c = SMALL_CONVNEXT['depths'], SMALL_CONVNEXT['channels']
    ref = ConvNeXt([CNBlockConfig(c[i], c[i + 1] if i < 3 else None, d[i]) for i in range(4)])
    assert tvm is not None
    _check(ref, _fovea('convnext/convnext-tiny.py', dict(arch=SMALL_CONVNEXT), dict(in_channels=128)), 'torchvision')


def test_timm_convnext_equivalence():
    timm = pytest.importorskip('timm')
    ref = timm.models.convnext.ConvNeXt(depths=tuple(SMALL_CONVNEXT['depths']), dims=tuple(SMALL_CONVNEXT['channels']))
    _check(ref, _fovea('convnext/convnext-tiny.py', dict(arch=SMALL_CONVNEXT), dict(in_channels=128)), 'timm')


def test_timm_convnext_v2_equivalence():
    """ConvNeXt V2 (GRN, no layer scale): timm's ``mlp.grn.weight/bias`` are fovea's ``grn.gamma/beta``."""
    timm = pytest.importorskip('timm')
    ref = timm.models.convnext.ConvNeXt(depths=tuple(SMALL_CONVNEXT['depths']), dims=tuple(SMALL_CONVNEXT['channels']),
                                        use_grn=True, ls_init_value=None)
    for name, p in ref.named_parameters():     # GRN starts as an identity: give it weights that matter
        if '.grn.' in name:
            torch.nn.init.normal_(p, std=0.5)
    _check(ref, _fovea('convnext/convnext-tiny.py', dict(arch=SMALL_CONVNEXT, use_grn=True, layer_scale_init_value=0.),
                       dict(in_channels=128)), 'timm')


REGNETS = [('timm', 'regnetx_004', 'regnetx_400mf', 384), ('timm', 'regnetx_016', 'regnetx_1.6gf', 912),
           ('torchvision', 'regnet_x_800mf', 'regnetx_800mf', 672)]


@pytest.mark.parametrize('source,ref_name,arch,width', REGNETS, ids=[r[1] for r in REGNETS])
def test_regnet_equivalence(source, ref_name, arch, width):
    if source == 'timm':
        ref = pytest.importorskip('timm').create_model(ref_name)
    else:
        ref = getattr(pytest.importorskip('torchvision.models'), ref_name)()
    _check(ref, _fovea('regnet.py', dict(arch=arch), dict(in_channels=width)), source)


def test_torchvision_regnet_x_400mf_is_not_mmpretrains_400mf():
    """torchvision rounds RegNetX-400MF's last stage to 400 channels (MMPretrain and timm: 384)."""
    tv = pytest.importorskip('torchvision.models').regnet_x_400mf()
    ours = _fovea('regnet.py')
    with pytest.raises(Exception, match='None of the 428 tensors .* fit ImageClassifier.*another architecture'):
        load_weights(ours, tv.state_dict(), strict=True, log=False)


CONVMIXERS = [('convmixer_768_32', dict(arch='768/32', act_cfg=dict(type='ReLU')), 768),
              ('convmixer_1024_20_ks9_p14', dict(arch='1024/20'), 1024)]


@pytest.mark.parametrize('ref_name,backbone,width', CONVMIXERS, ids=[c[0] for c in CONVMIXERS])
def test_timm_convmixer_equivalence(ref_name, backbone, width):
    ref = pytest.importorskip('timm').create_model(ref_name)
    _check(ref, _fovea('convmixer.py', backbone, dict(in_channels=width)), 'timm')


def test_timm_mlp_mixer_equivalence():
    """A 2-block Mixer-S/16 at 32 px (4 tokens); timm's LayerNorm eps is 1e-6."""
    timm_mixer = pytest.importorskip('timm.models.mlp_mixer')
    ref = timm_mixer.MlpMixer(img_size=32, patch_size=16, num_blocks=2, embed_dim=512, mlp_ratio=(0.5, 4.0))
    nn.init.normal_(ref.head.weight)   # timm zero-initialises the classifier
    ours = _fovea('mlp_mixer.py', dict(arch=dict(embed_dims=512, num_layers=2, tokens_mlp_dims=256,
                                                  channels_mlp_dims=2048), img_size=32,
                                       norm_cfg=dict(type='LN', eps=1e-6)), dict(in_channels=512))
    _check(ref, ours, 'timm')


def test_backbone_only_and_other_num_classes():
    """torchvision weights into a bare backbone (features match) and into a 10-class model
    (the head is reported as not loaded, everything else loads)."""
    tvm = pytest.importorskip('torchvision.models')
    ref = _calibrate(tvm.mobilenet_v2(weights=None), 32)
    ours = _fovea('mobilenet_v2_1x.py', head=dict(num_classes=10))
    report = load_weights(ours, ref.state_dict(), log=False)
    assert report.source == 'torchvision'
    assert [m[0] for m in report.mismatched] == ['head.fc.weight', 'head.fc.bias']
    assert not report.unexpected
    backbone = ours.backbone
    backbone_report = load_weights(backbone, ref.state_dict(), strict=True, log=False)
    assert not backbone_report.missing
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (backbone(x)[0] - ref.features(x)).abs().max() < 1e-4


def test_mmpretrain_mobilenet_v2_names():
    """An MMPretrain 1.x MobileNetV2 checkpoint numbers block convolutions conv.0/1/2; fovea's
    InvertedResidual names them expand_conv/depthwise_conv/linear_conv."""
    ours = _fovea('mobilenet_v2_1x.py')
    renamed = {}
    for k, v in ours.state_dict().items():
        for new, old in (('expand_conv', 'conv.0'), ('depthwise_conv', 'conv.1'), ('linear_conv', 'conv.2')):
            k = k.replace(f'.{new}.', f'.{old}.')
        renamed[k] = v
    for k in [k for k in renamed if k.startswith('backbone.layer1.0.conv.')]:  # no expansion in layer1
        renamed[k.replace('.conv.1.', '.conv.0.').replace('.conv.2.', '.conv.1.')] = renamed.pop(k)
    mmp = {k: torch.randn_like(v.float()).to(v.dtype) if v.is_floating_point() else v for k, v in renamed.items()}
    fresh = _fovea('mobilenet_v2_1x.py')
    report = load_weights(fresh, {'state_dict': mmp}, strict=True, log=False)
    assert report.source == 'mmpretrain'
    assert torch.equal(fresh.state_dict()['backbone.layer2.0.expand_conv.conv.weight'],
                       mmp['backbone.layer2.0.conv.0.conv.weight'])
    assert torch.equal(fresh.state_dict()['backbone.layer1.0.linear_conv.bn.weight'],
                       mmp['backbone.layer1.0.conv.1.bn.weight'])

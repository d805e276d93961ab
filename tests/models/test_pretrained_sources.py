"""Where ``init_cfg=dict(type='Pretrained', checkpoint=...)`` finds weights (issue 22.5): the
``torchvision://``, ``open-mmlab://`` and ``mmcls://`` names of MMPretrain/mmengine configs resolve
to mmengine's URLs (no network: downloads are replaced by local files), and Swin checkpoints in
MMPretrain's older format (``norm.*``, ``attn_mask`` buffers) load."""
from __future__ import annotations

import pytest
import torch

import fovea.utils.download
from fovea.models.backbones import ResNet, SwinTransformer
from fovea.models.weights import load_weights
from fovea.registry import MODELS
from fovea.utils.errors import CheckpointError
from fovea.utils.weights import resolve_checkpoint

TV = 'https://download.pytorch.org/models/'
MMCLS = 'https://download.openmmlab.com/mmclassification/v0/'
THIRD = 'https://download.openmmlab.com/pretrain/third_party/'


@pytest.mark.parametrize('name,url,prefix', [
    ('torchvision://resnet50', TV + 'resnet50-0676ba61.pth', None),
    ('modelzoo://resnet50', TV + 'resnet50-0676ba61.pth', None),
    ('torchvision://resnet50.imagenet1k_v2', TV + 'resnet50-11ad3fa6.pth', None),
    ('torchvision://ResNet50_Weights.IMAGENET1K_V2', TV + 'resnet50-11ad3fa6.pth', None),
    ('torchvision://vgg16', TV + 'vgg16-397923af.pth', None),
    ('open-mmlab://resnext50_32x4d', THIRD + 'resnext50-32x4d-0ab1a123.pth', None),
    ('openmmlab://resnext50_32x4d', THIRD + 'resnext50-32x4d-0ab1a123.pth', None),
    ('open-mmlab://resnet50_caffe', THIRD + 'resnet50_caffe-788b5fa3.pth', None),  # deprecated alias
    ('mmcls://resnet50', MMCLS + 'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth', 'backbone.'),
    ('work_dirs/epoch_3.pth', 'work_dirs/epoch_3.pth', None),
    ('https://example.org/w.pth', 'https://example.org/w.pth', None),
])
def test_model_zoo_names_resolve_to_mmengine_urls(name, url, prefix):
    assert resolve_checkpoint(name) == (url, prefix)


def test_unknown_zoo_name_is_a_clear_error():
    with pytest.raises(CheckpointError, match=r"'resnet51' is not among .* Did you mean 'resnet50'"):
        resolve_checkpoint('torchvision://resnet51')
    with pytest.raises(CheckpointError, match='no published weights'):
        resolve_checkpoint('torchvision://shufflenetv2_x2.0')


def _fake_download(monkeypatch, tmp_path, state):
    asked = []
    path = tmp_path / 'weights.pth'
    torch.save(state, path)

    def download(url, sha256=None, filename=None):
        asked.append(url)
        return path
    monkeypatch.setattr(fovea.utils.download, 'download_to_cache', download)
    return asked


def test_pretrained_init_cfg_with_torchvision_scheme(monkeypatch, tmp_path):
    torchvision = pytest.importorskip('torchvision')
    tv = torchvision.models.resnet18().state_dict()
    asked = _fake_download(monkeypatch, tmp_path, tv)
    net = MODELS.build(dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained',
                                                                     checkpoint='torchvision://resnet18')))
    net.init_weights()
    assert asked == [TV + 'resnet18-f37072fd.pth']
    assert torch.equal(net.conv1.weight, tv['conv1.weight']) and torch.equal(
        net.layer4[1].bn2.running_var, tv['layer4.1.bn2.running_var'])


def test_pretrained_init_cfg_with_mmcls_scheme_loads_the_backbone_keys(monkeypatch, tmp_path):
    src = ResNet(depth=18)
    state = {'state_dict': {**{f'backbone.{k}': v for k, v in src.state_dict().items()},
                            'head.fc.weight': torch.zeros(1000, 512), 'head.fc.bias': torch.zeros(1000)}}
    asked = _fake_download(monkeypatch, tmp_path, state)
    net = MODELS.build(dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained', checkpoint='mmcls://resnet18')))
    net.init_weights()
    assert asked == [MMCLS + 'resnet/resnet18_8xb32_in1k_20210831-fbbb1da6.pth']
    assert all(torch.equal(v, src.state_dict()[k]) for k, v in net.state_dict().items())


def _old_swin_state(model: SwinTransformer, prefix: str = '') -> dict:
    """What MMPretrain's Swin code before format version 2 saved: the last norm as ``norm``, plus the
    shift masks as ``attn_mask`` buffers."""
    out = {}
    for k, v in model.state_dict().items():
        out[k.replace(f'{prefix}norm3.', f'{prefix}norm.')] = v.clone()
    out[f'{prefix}stages.0.blocks.1.attn.attn_mask'] = torch.zeros(64, 49, 49)
    return out


def test_old_swin_checkpoints_load_into_the_backbone_directly():
    src = SwinTransformer(arch='tiny')
    old = _old_swin_state(src)
    assert 'norm.weight' in old and 'norm3.weight' not in old
    model = SwinTransformer(arch='tiny')
    model.load_state_dict(old, strict=True)  # as mmengine's load_checkpoint does
    assert torch.equal(model.norm3.weight, src.norm3.weight)


def test_old_swin_checkpoints_load_into_a_classifier():
    cfg = dict(type='ImageClassifier', backbone=dict(type='SwinTransformer', arch='tiny'),
               neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=5, in_channels=768))
    src, dst = MODELS.build(cfg), MODELS.build(cfg)
    report = load_weights(dst, {'state_dict': _old_swin_state(src, 'backbone.')}, strict=True)
    assert not report.missing and torch.equal(dst.backbone.norm3.bias, src.backbone.norm3.bias)

"""CNN zoo B: every family builds from its shipped config and trains a step; backbone options
(out_indices, frozen_stages, norm_eval); RepVGG structural re-parameterisation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.models.backbones import (ConvNeXt, EfficientNet, MobileNetV2, MobileNetV3, RepVGG, ShuffleNetV1,
                                    ShuffleNetV2)
from fovea.structures import DataSample

FAMILIES = [
    'mobilenet_v2_1x.py',
    'mobilenet_v3/mobilenet_v3_small_imagenet.py',
    'shufflenet_v1_1x.py',
    'shufflenet_v2_1x.py',
    'repvgg-A0_in1k.py',
    'convnext/convnext-tiny.py',
    'efficientnet_b0.py',
]


@pytest.mark.parametrize('base', FAMILIES)
def test_builds_from_config_and_trains_a_step(base):
    cfg = Config.fromfile(f'_base_/models/{base}').to_dict()['model']
    cfg['head']['num_classes'] = 5
    if 'ConvNeXt' == cfg['backbone']['type']:
        cfg['backbone']['arch'] = dict(depths=[1, 1, 2, 1], channels=[16, 32, 64, 128])  # keep it small
        cfg['head']['in_channels'] = 128
    model = build_model_from_cfg(cfg).train()
    data = {'inputs': torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8),
            'data_samples': [DataSample().set_gt_label(i % 5) for i in range(4)]}
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    batch = model.data_preprocessor(data, True)
    losses = model(**batch, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    no_grad = [k for k, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f'parameters without gradient: {no_grad[:5]}'
    optim.step()
    changed = sum(not torch.equal(before[k], p) for k, p in model.named_parameters())
    assert changed > len(before) // 2
    model.eval()
    with torch.no_grad():
        preds = model(model.data_preprocessor(data, False)['inputs'], mode='predict')
    assert len(preds) == 4 and preds[0].pred_score.shape == (5,)


@pytest.mark.parametrize('backbone,out_indices,channels', [
    (lambda o: MobileNetV2(out_indices=o), (1, 2, 4, 7), [24, 32, 96, 1280]),
    (lambda o: MobileNetV3('large', out_indices=o), (3, 6, 12, 16), [24, 40, 112, 960]),
    (lambda o: ShuffleNetV1(out_indices=o), (0, 1, 2), [240, 480, 960]),
    (lambda o: ShuffleNetV2(out_indices=o), (0, 1, 2, 3), [116, 232, 464, 1024]),
    (lambda o: RepVGG('A0', out_indices=o), (0, 1, 2, 3), [48, 96, 192, 1280]),
    (lambda o: ConvNeXt(dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]), out_indices=o,
                        gap_before_final_norm=False), [0, 1, 2, 3], [8, 16, 32, 64]),
    (lambda o: EfficientNet('b0', out_indices=o), (2, 3, 4, 6), [24, 40, 112, 1280]),
], ids=['mbv2', 'mbv3', 'shufflev1', 'shufflev2', 'repvgg', 'convnext', 'effnet'])
def test_multiscale_outputs(backbone, out_indices, channels):
    net = backbone(out_indices).eval()
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == channels
    sizes = [o.shape[-1] for o in outs]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 2  # stride 32 at the end


def test_frozen_stages_and_norm_eval():
    net = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(('conv1.', 'layer1.', 'layer2.')) for n in frozen)
    assert all(p.requires_grad for n, p in net.named_parameters() if n.startswith('layer3.'))
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    net = RepVGG('A0', frozen_stages=1).train()
    assert not net.stem.training and not net.stage_1.training and net.stage_2.training
    assert not any(p.requires_grad for p in net.stage_1.parameters())
    net = ConvNeXt(dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]), frozen_stages=2).train()
    assert not any(p.requires_grad for p in net.stages[1].parameters())
    assert all(p.requires_grad for p in net.stages[2].parameters())
    with pytest.raises(ValueError, match='frozen_stages'):
        ShuffleNetV2(frozen_stages=5)
    with pytest.raises(ValueError, match='out_indices'):
        MobileNetV3('small', out_indices=(13,))


def test_drop_path_schedule():
    net = EfficientNet('b0', drop_path_rate=0.2)
    rates = [m.drop_prob for m in net.modules() if type(m).__name__ == 'DropPath']
    assert rates[-1] == pytest.approx(0.2) and rates == sorted(rates)
    net = ConvNeXt(dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]), drop_path_rate=0.3)
    assert [m.drop_prob for m in net.modules() if type(m).__name__ == 'DropPath'][-1] == pytest.approx(0.3)


def _calibrate_bn(model: nn.Module, x: torch.Tensor) -> None:
    """Random BN affine parameters and running statistics measured on ``x`` (so that the
    activations of a deep random network stay O(1) and a conversion error would show)."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch gives exactly its statistics
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


# A0 and a small grouped variant (the identity branch of grouped blocks folds differently)
@pytest.mark.parametrize('arch,head_in', [
    ('A0', 1280),
    (dict(num_blocks=[1, 2, 2, 1], width_factor=[0.5, 0.5, 0.5, 1], group_layer_map={2: 2, 4: 2}), 512),
], ids=['A0', 'grouped'])
def test_repvgg_reparameterisation(arch, head_in):
    cfg = Config.fromfile('_base_/models/repvgg-A0_in1k.py').to_dict()['model']
    cfg['backbone']['arch'] = arch
    cfg['head']['in_channels'] = head_in
    model = build_model_from_cfg(cfg)
    x = torch.randn(2, 3, 64, 64)
    _calibrate_bn(model, torch.randn(4, 3, 64, 64))
    with torch.no_grad():
        want = model(x)
        n_train = sum(p.numel() for p in model.parameters())
        model.backbone.switch_to_deploy()
        got = model(x)
    assert want.abs().max() > 0.1
    assert (got - want).abs().max().item() < 1e-4
    assert sum(p.numel() for p in model.parameters()) < n_train
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    # a model built with deploy=True has exactly the switched model's weights
    cfg['backbone']['deploy'] = True
    deployed = build_model_from_cfg(cfg).eval()
    deployed.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(deployed(x), got)

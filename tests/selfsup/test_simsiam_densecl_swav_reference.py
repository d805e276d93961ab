"""SimSiam, DenseCL and SwAV against MMPretrain 1.2.0 on the same weights and views (one MMPretrain
subprocess for all of them): the losses, DenseCL's two queues after the step, SwAV's loss without and
with a full queue and the queue after the step, and the Sinkhorn codes."""
from __future__ import annotations

import pytest
import torch

from reference_testutil import run_mmpretrain

from fovea.models.losses.swav_loss import distributed_sinkhorn
from fovea.registry import MODELS, build

pytestmark = pytest.mark.reference

BB = dict(type='ResNet_CIFAR', depth=18, base_channels=16)
BN1D = dict(type='BN1d')
CFGS = {
    'SimSiam': dict(type='SimSiam', backbone=BB,
                    neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=32, out_channels=32, num_layers=3,
                              with_last_bn_affine=False, norm_cfg=BN1D),
                    head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                              predictor=dict(type='NonLinearNeck', in_channels=32, hid_channels=8, out_channels=32,
                                             with_avg_pool=False, with_last_bn=False, with_last_bias=True,
                                             norm_cfg=BN1D))),
    'DenseCL': dict(type='DenseCL', queue_len=32, feat_dim=16, momentum=0.01, loss_lambda=0.3, backbone=BB,
                    neck=dict(type='DenseCLNeck', in_channels=128, hid_channels=32, out_channels=16, num_grid=None),
                    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2)),
    'SwAV': dict(type='SwAV', backbone=BB,
                 neck=dict(type='SwAVNeck', in_channels=128, hid_channels=32, out_channels=16, norm_cfg=BN1D),
                 head=dict(type='SwAVHead', loss=dict(type='SwAVLoss', feat_dim=16, num_crops=[2, 3],
                                                      num_prototypes=12, temperature=0.1, epsilon=0.05))),
}

REFERENCE = '''
import numpy as np
from mmpretrain.models.losses.swav_loss import distributed_sinkhorn
result = {}
m = build(data['cfgs']['SimSiam'], data['SimSiam'])
result['SimSiam'] = m.loss(data['views2'], None)['loss'].item()
m = build(data['cfgs']['DenseCL'], data['DenseCL'])
out = m.loss(data['views2_64'], None)
result['DenseCL'] = [out['loss_single'].item(), out['loss_dense'].item(), m.queue.tolist(), m.queue2.tolist(),
                     int(m.queue_ptr), int(m.queue2_ptr)]
m = build(data['cfgs']['SwAV'], data['SwAV'])
no_queue = m.loss(data['crops'], None)['loss'].item()
m.head.loss_module.queue = data['swav_queue'].clone()
with_queue = m.loss(data['crops'], None)['loss'].item()
result['SwAV'] = [no_queue, with_queue, m.head.loss_module.queue.tolist()]
result['sinkhorn'] = distributed_sinkhorn(data['scores'], 3, 1, 0.05).tolist()
dead = data['scores'].clone()
dead[:, 0] = -1e4
result['sinkhorn_dead'] = distributed_sinkhorn(dead, 3, 1, 0.05).tolist()
'''


@pytest.fixture(scope='module')
def fovea_and_reference(tmp_path_factory):
    g = torch.Generator().manual_seed(1)
    views2 = [torch.randn(8, 3, 32, 32, generator=g) for _ in range(2)]
    views2_64 = [torch.randn(8, 3, 64, 64, generator=g) for _ in range(2)]
    crops = [torch.randn(4, 3, s, s, generator=g) for s in (32, 32, 16, 16, 16)]
    swav_queue = torch.nn.functional.normalize(torch.randn(2, 8, 16, generator=g), dim=2)
    scores = torch.randn(20, 9, generator=g).clamp(-1, 1)
    models = {}
    for name, cfg in CFGS.items():
        torch.manual_seed(0)
        models[name] = build(cfg, MODELS)
        models[name].init_weights()
    data = dict(cfgs=CFGS, views2=views2, views2_64=views2_64, crops=crops, swav_queue=swav_queue, scores=scores,
                **{name: m.state_dict() for name, m in models.items()})
    ref = run_mmpretrain(tmp_path_factory.mktemp('ref'), data, REFERENCE)
    return models, data, ref


def test_simsiam_loss_matches(fovea_and_reference):
    models, data, ref = fovea_and_reference
    assert models['SimSiam'].train().loss(data['views2'])['loss'].item() == pytest.approx(ref['SimSiam'], abs=1e-5)


def test_densecl_losses_and_queues_match(fovea_and_reference):
    models, data, ref = fovea_and_reference
    model = models['DenseCL'].train()
    out = model.loss(data['views2_64'])
    model.after_optimizer_step(1, 10)                  # fovea pushes the keys after the step
    single, dense, queue, queue2, ptr, ptr2 = ref['DenseCL']
    assert out['loss_single'].item() == pytest.approx(single, abs=1e-5)
    assert out['loss_dense'].item() == pytest.approx(dense, abs=1e-5)
    torch.testing.assert_close(model.queue, torch.tensor(queue), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.queue2, torch.tensor(queue2), atol=1e-5, rtol=1e-4)
    assert (int(model.queue_ptr), int(model.queue2_ptr)) == (ptr, ptr2) == (8, 8)


def test_swav_losses_and_queue_match(fovea_and_reference):
    models, data, ref = fovea_and_reference
    model = models['SwAV'].train()
    no_queue, with_queue, queue = ref['SwAV']
    assert model.loss(data['crops'])['loss'].item() == pytest.approx(no_queue, abs=1e-5)
    model.head.loss_module.queue = data['swav_queue'].clone()
    assert model.loss(data['crops'])['loss'].item() == pytest.approx(with_queue, abs=1e-5)
    assert with_queue != pytest.approx(no_queue, abs=1e-3)
    model.after_optimizer_step(1, 10)
    torch.testing.assert_close(model.head.loss_module.queue, torch.tensor(queue), atol=1e-5, rtol=1e-4)


def test_sinkhorn_matches(fovea_and_reference):
    _, data, ref = fovea_and_reference
    torch.testing.assert_close(distributed_sinkhorn(data['scores'], 3, 1, 0.05), torch.tensor(ref['sinkhorn']),
                               rtol=1e-5, atol=1e-6)
    dead = data['scores'].clone()
    dead[:, 0] = -1e4                                  # a prototype nobody scores: both smooth by 1e-12
    torch.testing.assert_close(distributed_sinkhorn(dead, 3, 1, 0.05), torch.tensor(ref['sinkhorn_dead']),
                               rtol=1e-5, atol=1e-6)

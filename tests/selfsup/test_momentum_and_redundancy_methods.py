"""MoCo v2, BYOL and Barlow Twins: losses equal MMPretrain's on the same weights and views, the
momentum encoder and queue follow the optimizer steps (also under accumulation), BYOL's cosine
momentum, and Barlow Twins' gradients on 2 processes equal one process on the global batch."""
from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from dist_testutil import free_port, init_gloo

from fovea.models.utils.averaged_model import CosineEMA
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

REF_PYTHON = Path('/work/refvenv/bin/python')
BB = dict(type='ResNet_CIFAR', depth=18, base_channels=16)
BN1D = dict(type='BN1d')
CFGS = {
    'MoCo': dict(type='MoCo', queue_len=64, feat_dim=16, momentum=0.01, backbone=BB,
                 neck=dict(type='MoCoV2Neck', in_channels=128, hid_channels=32, out_channels=16),
                 head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2)),
    'BYOL': dict(type='BYOL', base_momentum=0.01, backbone=BB,
                 neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=32, out_channels=16, with_bias=True,
                           with_last_bn=False, norm_cfg=BN1D),
                 head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                           predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=32, out_channels=16,
                                          with_bias=True, with_last_bn=False, with_avg_pool=False, norm_cfg=BN1D))),
    'BarlowTwins': dict(type='BarlowTwins', backbone=BB,
                        neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=32, out_channels=32,
                                  num_layers=3, with_last_bn=False, with_last_bn_affine=False, norm_cfg=BN1D),
                        head=dict(type='LatentCrossCorrelationHead', in_channels=32,
                                  loss=dict(type='CrossCorrelationLoss'))),
}


def _model(name):
    torch.manual_seed(0)
    model = build(CFGS[name], MODELS)
    model.init_weights()
    return model


def _views(n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g) for _ in range(2)]


@pytest.mark.reference
@pytest.mark.parametrize('name', sorted(CFGS))
def test_loss_matches_mmpretrain(name, tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    model = _model(name).train()
    views = _views()
    torch.save({'state_dict': model.state_dict(), 'views': views}, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
model = MODELS.build(json.loads({json.dumps(json.dumps(CFGS[name]))})).train()
data = torch.load({str(tmp_path / 'in.pth')!r})
model.load_state_dict(data['state_dict'], strict=True)
print(json.dumps(model.loss(data['views'], None)['loss'].item()))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    assert model.loss(views)['loss'].item() == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_moco_key_encoder_and_queue_follow_the_optimizer_steps():
    model = _model('MoCo').train()
    online = nn.Sequential(model.backbone, model.neck)
    views = _views()
    model.loss(views)                                        # first step: the key encoder is a copy
    for p, q in zip(online.parameters(), model.encoder_k.module.parameters()):
        assert torch.equal(p, q)
    assert int(model.queue_ptr) == 0                         # keys wait for the optimizer step
    model.loss(_views(seed=2))                               # a second micro-step (accumulation)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    before = [q.clone() for q in model.encoder_k.module.parameters()]
    model.after_optimizer_step(1, 10)
    for p, q, b in zip(online.parameters(), model.encoder_k.module.parameters(), before):
        torch.testing.assert_close(q, b * 0.99 + p * 0.01)   # momentum 0.01 = weight of the new value
    assert int(model.queue_ptr) == 16                        # both micro-steps' 8 keys entered
    torch.testing.assert_close(model.queue.norm(dim=0), torch.ones(64))


def test_moco_queue_must_divide_by_the_global_batch():
    model = _model('MoCo')
    with pytest.raises(ConfigError, match='queue_len=64 must be a multiple of the global batch'):
        model.loss(_views(6))


def test_byol_target_momentum_anneals_along_a_cosine():
    ema = CosineEMA(nn.Linear(2, 2), momentum=0.01)
    assert ema.current_momentum(5) == 0.01                   # no run length known: constant
    ema.max_iters = 100
    assert ema.current_momentum(0) == pytest.approx(0.01)
    assert ema.current_momentum(50) == pytest.approx(0.005)
    assert ema.current_momentum(100) == pytest.approx(0.0)
    model = _model('BYOL')
    model.loss(_views())
    model.after_optimizer_step(1, 40)
    assert model.target_net.max_iters == 40 and int(model.target_net.steps) == 2


def test_training_steps_lower_the_byol_and_barlowtwins_losses():
    # (MoCo's first loss is against a queue of random keys, so its loss rises as real keys fill it)
    for name in ('BYOL', 'BarlowTwins'):
        model = _model(name).train()
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
        views = _views(16)
        losses = []
        for step in range(1, 5):
            loss = model.loss(views)['loss']
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.after_optimizer_step(step, 4)
            losses.append(loss.item())
        assert losses[-1] < losses[0], (name, losses)
        assert all(math.isfinite(v) for v in losses)


def _barlow_worker(rank, world, port):
    model = _model('BarlowTwins').eval()                      # eval: BN uses fixed statistics
    v1, v2 = _views(8)
    ref = model.loss([v1, v2])['loss']
    params = [p for p in model.parameters() if p.requires_grad]
    ref_grads = torch.autograd.grad(ref, params)
    init_gloo(rank, world, port)
    ddp = nn.parallel.DistributedDataParallel(model)
    n = len(v1) // world
    loss = ddp([v[rank * n:(rank + 1) * n] for v in (v1, v2)], None, mode='loss')['loss']
    loss.backward()
    assert torch.allclose(loss.detach(), ref.detach(), rtol=1e-5)   # every rank sees the global matrix
    for p, g in zip(params, ref_grads):
        assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-5), (p.grad - g).abs().max()
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_barlowtwins_two_processes_give_the_gradients_of_one_process_on_the_global_batch():
    mp.spawn(_barlow_worker, args=(2, free_port()), nprocs=2, join=True)

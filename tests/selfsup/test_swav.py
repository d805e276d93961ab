"""SwAV: Sinkhorn-Knopp codes (against a literal float64 implementation, equipartition, 2 processes ==
one on the global batch), multi-crop batching, and SwAVHook's queue start and frozen prototypes
(MMPretrain's values: test_simsiam_densecl_swav_reference.py)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp

from dist_testutil import free_port, init_gloo

from fovea.engine.selfsup_hooks import SwAVHook
from fovea.models.losses.swav_loss import distributed_sinkhorn
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

CFG = dict(type='SwAV', backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=8),
           neck=dict(type='SwAVNeck', in_channels=64, hid_channels=32, out_channels=16, norm_cfg=dict(type='BN1d')),
           head=dict(type='SwAVHead', loss=dict(type='SwAVLoss', feat_dim=16, num_crops=[2, 2], num_prototypes=10)))


def _model():
    torch.manual_seed(0)
    model = build(CFG, MODELS)
    model.init_weights()
    return model.train()


def _views(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, s, s, generator=g) for s in (32, 32, 16, 16)]


def _literal_sinkhorn(scores, iters, eps):
    q = torch.exp(scores.double() / eps).t()
    q /= q.sum()
    k, b = q.shape
    for _ in range(iters):
        q /= q.sum(1, keepdim=True) * k
        q /= q.sum(0, keepdim=True) * b
    return (q * b).t()


def test_sinkhorn_gives_equipartitioned_assignments():
    scores = torch.nn.functional.normalize(torch.randn(12, 5), dim=1) @ \
        torch.nn.functional.normalize(torch.randn(7, 5), dim=1).t()       # cosine scores (B=12, K=7)
    q = distributed_sinkhorn(scores, 3, 1, 0.05)
    torch.testing.assert_close(q.double(), _literal_sinkhorn(scores, 3, 0.05), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(q.sum(1), torch.ones(12))                     # each sample: a distribution
    converged = distributed_sinkhorn(scores, 200, 1, 0.05)
    torch.testing.assert_close(converged.sum(0), torch.full((7,), 12 / 7), rtol=1e-3, atol=1e-3)
    assert (q.argmax(1) == scores.argmax(1)).float().mean() > 0.5             # follows the scores
    tiny_eps = distributed_sinkhorn(scores, 3, 1, 0.005)                      # exp(200): finite here
    assert torch.isfinite(tiny_eps).all()
    torch.testing.assert_close(distributed_sinkhorn(scores + 0.3, 3, 1, 0.05), q)   # shift-invariant
    dead = scores.clone()
    dead[:, 0] = -1e4                                    # a prototype no sample scores: exp underflows to 0
    q_dead = distributed_sinkhorn(dead, 3, 1, 0.05)      # smoothed (MMPretrain's 1e-12), not 0 / 0
    assert torch.isfinite(q_dead).all()
    torch.testing.assert_close(q_dead.sum(1), torch.ones(12))


def _ddp_worker(rank, world, port):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(8, 6, generator=g)
    ref_codes = distributed_sinkhorn(scores, 3, 1, 0.1)
    model = _model().eval()                                   # eval: BN statistics do not depend on the split
    views = _views(8)
    params = dict(model.named_parameters())
    ref_grads = []
    for _ in range(2):
        grads = torch.autograd.grad(model.loss(views)['loss'], list(params.values()))
        ref_grads.append(dict(zip(params, grads)))
    init_gloo(rank, world, port)
    mine = distributed_sinkhorn(scores[rank * 4:(rank + 1) * 4], 3, world, 0.1)
    torch.testing.assert_close(mine, ref_codes[rank * 4:(rank + 1) * 4])
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    hook = SwAVHook(batch_size=4, frozen_layers_cfg=dict(prototypes=1))
    runner = SimpleNamespace(unwrapped_model=model, model=ddp, world_size=world, epoch=0, iter=0)
    hook.before_run(runner)
    for it in range(2):                                       # iteration 0: prototypes frozen
        runner.iter = it
        hook.before_train_iter(runner, it)
        model.zero_grad(set_to_none=True)
        ddp([v[rank * 4:(rank + 1) * 4] for v in views], None, mode='loss')['loss'].backward()
        for name, p in params.items():
            if it == 0 and 'prototypes' in name:
                assert p.grad is None, name
            else:
                torch.testing.assert_close(p.grad, ref_grads[it][name], atol=1e-5, rtol=1e-4, msg=name)
    with pytest.raises(ConfigError, match='find_unused_parameters=True'):
        hook.before_run(SimpleNamespace(unwrapped_model=model, world_size=world,
                                        model=torch.nn.parallel.DistributedDataParallel(model)))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_give_the_codes_and_gradients_of_one_process_on_the_global_batch():
    """Sinkhorn over the ranks' samples == one process on all of them, and SwAV's gradients under
    DDP == one process on the global batch, also while SwAVHook freezes the prototypes."""
    mp.spawn(_ddp_worker, args=(2, free_port()), nprocs=2, join=True)


def test_multi_crop_runs_the_backbone_once_per_resolution():
    model = _model()
    calls = []
    model.backbone.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    loss = model.loss(_views())['loss']
    assert calls == [(8, 3, 32, 32), (8, 3, 16, 16)]
    assert torch.isfinite(loss)
    loss.backward()
    assert model.head.loss_module.prototypes.weight.grad is not None
    torch.testing.assert_close(model.head.loss_module.prototypes.weight.norm(dim=1), torch.ones(10))
    with pytest.raises(ConfigError, match=r'gives 3 views per image.*num_crops=\[2, 2\] expects 4'):
        model.loss(_views()[:3])


def _runner(model, epoch=0, it=0):
    return SimpleNamespace(unwrapped_model=model, model=model, world_size=1, epoch=epoch, iter=it)


def test_queue_starts_at_its_epoch_fills_after_steps_and_is_used_once_full():
    model = _model()
    loss_module = model.head.loss_module
    hook = SwAVHook(batch_size=4, epoch_queue_starts=2, feat_dim=16, queue_length=10)
    runner = _runner(model)
    hook.before_run(runner)
    assert hook.queue_length == 8                        # rounded down to a multiple of the global batch
    for epoch in (0, 1):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert loss_module.queue is None
    views, other = _views(), _views(seed=5)
    no_queue = model.loss(views)['loss'].item()
    other_no_queue = model.loss(other)['loss'].item()
    runner.epoch = 2
    hook.before_train_epoch(runner)
    assert loss_module.queue.shape == (2, 8, 16) and not loss_module.queue.any()
    assert 'head.loss_module.queue' not in model.state_dict()         # as MMPretrain: not saved
    for step in (1, 2):
        assert model.loss(views)['loss'].item() == pytest.approx(no_queue, abs=1e-6)   # not full: unused
        assert not loss_module.use_queue
        model.after_optimizer_step(step, 10)
    with torch.no_grad():
        emb = model.neck([model.backbone(torch.cat(views[:2])), model.backbone(torch.cat(views[2:]))])
    for i in (0, 1):                                     # each assigned crop's embeddings, twice
        torch.testing.assert_close(loss_module.queue[i], emb[4 * i:4 * i + 4].repeat(2, 1))
    with_queue = model.loss(other)['loss'].item()       # codes now also equipartition the queue's rows
    assert loss_module.use_queue and with_queue != pytest.approx(other_no_queue, abs=1e-4)
    runner.epoch = 3
    hook.before_train_epoch(runner)
    assert not loss_module.use_queue and loss_module.queue.any()      # the same queue goes on
    with pytest.raises(ConfigError, match='queue_length is shorter than the global batch'):
        SwAVHook(batch_size=16, queue_length=8).before_run(runner)


def test_prototypes_get_no_gradient_and_do_not_move_while_frozen():
    model = _model()
    protos = model.head.loss_module.prototypes.weight
    hook = SwAVHook(batch_size=4, frozen_layers_cfg=dict(prototypes=2))
    runner = _runner(model)
    hook.before_run(runner)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5, momentum=0.9,
                          weight_decay=1e-4)
    trace = []
    for it in range(4):
        runner.iter = it
        hook.before_train_iter(runner, it)
        opt.zero_grad(set_to_none=True)
        model.loss(_views(seed=it))['loss'].backward()
        before = protos.detach().clone()
        opt.step()
        trace.append((protos.grad is None, torch.equal(before, protos.detach())))
        assert model.neck.projection_neck[0].weight.grad.abs().sum() > 0
    assert trace == [(True, True), (True, True), (False, False), (False, False)]
    assert protos.requires_grad


def test_cifar_config_trains_with_the_hook_from_custom_hooks(tmp_path):
    from PIL import Image

    from fovea.config import Config
    from fovea.engine.hooks import Hook
    from fovea.engine.runner import Runner
    d = tmp_path / 'data' / 'train' / 'a'
    d.mkdir(parents=True)
    for i in range(4):
        Image.new('RGB', (32, 32), (50 * i, 200 - 30 * i, 90)).save(d / f'{i}.png')
    cfg = Config.fromfile('swav_resnet18_cifar10', [
        f'work_dir={tmp_path / "run"}', f'train_dataloader.dataset.data_root={tmp_path / "data"}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=3', 'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'default_hooks.checkpoint=None',
        'model.backbone.base_channels=8', 'model.neck.in_channels=64', 'model.neck.hid_channels=16',
        'custom_hooks.1.batch_size=2', 'custom_hooks.1.queue_length=4', 'custom_hooks.1.epoch_queue_starts=1',
        'custom_hooks.1.frozen_layers_cfg.prototypes=1'])
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'KNNHook']

    class Record(Hook):
        priority = 'LOWEST'
        seen = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            loss = runner.unwrapped_model.head.loss_module
            Record.seen.append((runner.epoch, loss.queue is not None, loss.use_queue,
                                loss.prototypes.weight.requires_grad, float(outputs['loss'])))

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Record())
    runner.train()
    assert [s[:4] for s in Record.seen] == [(0, False, False, False), (0, False, False, True),
                                           (1, True, False, True), (1, True, False, True),
                                           (2, True, True, True), (2, True, True, True)]
    assert all(math.isfinite(s[4]) for s in Record.seen)

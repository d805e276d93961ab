"""Multi-process CPU runs (gloo): SyncBN exactness, a Runner run with sync_bn, FSDP save/load/export and a
Runner run with env_cfg.fsdp (resume reproduces the straight run), gradient checkpointing."""
from __future__ import annotations

import copy
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from dist_testutil import free_port as _port, init_gloo as _init

from fovea.engine.distributed import (NaiveSyncBatchNorm, apply_fsdp, consolidated_state_dict,
                                      convert_sync_batchnorm, enable_gradient_checkpointing, load_sharded,
                                      save_sharded)


def _spawn(fn, *args) -> None:
    mp.spawn(fn, args=(2, _port(), *args), nprocs=2, join=True)


# ---------------------------------------------------------------------------- SyncBN
def _syncbn_worker(rank, world, port):
    _init(rank, world, port)
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    x = torch.randn(8, 3, 6, 6)
    w = torch.randn(8, 4, 4, 4)
    # reference: plain BN over the whole batch in one process
    (ref(x) * w).sum().backward()
    model = convert_sync_batchnorm(copy.deepcopy(ref), 'cpu')
    model.zero_grad()
    assert isinstance(model[1], NaiveSyncBatchNorm)
    sl = slice(rank * 4, rank * 4 + 4)
    model[1].running_mean.zero_(), model[1].running_var.fill_(1)
    out = model(x[sl])
    (out * w[sl]).sum().backward()
    for p in model.parameters():  # DDP would sum (average) these; sum them by hand
        dist.all_reduce(p.grad)
    fresh = copy.deepcopy(ref).train()
    fresh[1].reset_running_stats()
    fresh(x)
    assert torch.allclose(out, ref(x)[sl], atol=1e-5)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-4), (p.grad - q.grad).abs().max()
    assert torch.allclose(model[1].running_mean, fresh[1].running_mean, atol=1e-6)
    assert torch.allclose(model[1].running_var, fresh[1].running_var, atol=1e-5)
    dist.destroy_process_group()


def _all_worker(rank, world, port, work_dir, ckpt_dir):
    _syncbn_worker(rank, world, port)
    _fsdp_worker(rank, world, _port_from(port, 1), ckpt_dir)
    _runner_worker(rank, world, _port_from(port, 2), work_dir)
    _runner_fsdp_worker(rank, world, _port_from(port, 3), work_dir)


def _lenet_cfg(work_dir, *extra):
    from fovea.config import Config
    return Config.fromfile('lenet5_digits', [
        f'work_dir={work_dir}', 'train_cfg.max_epochs=2', 'param_scheduler.1.end=2', 'param_scheduler.0.end=2',
        'train_cfg.val_interval=2', 'train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=16',
        'val_dataloader.dataset.indices=32', 'env_cfg.precision=fp32', 'env_cfg.dist_cfg.backend=gloo',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.save_best=None',
        'default_hooks.checkpoint.interval=1', 'randomness.seed=0', *extra])


def _runner_fsdp_worker(rank, world, port, work_dir):
    """env_cfg.fsdp: train 2 epochs; then resume from epoch 1 (full weights + optimizer shards)."""
    _init(rank, world, port)
    from fovea.engine.runner import Runner
    a = Runner.from_cfg(_lenet_cfg(f'{work_dir}/fsdp_a', 'env_cfg.fsdp=True'))
    a.train()
    assert getattr(a.model, '_fovea_fsdp', False) and not isinstance(a.model, nn.parallel.DistributedDataParallel)
    first = sorted((p for p in __import__('pathlib').Path(f'{work_dir}/fsdp_a').rglob('epoch_1.pth')))[0]
    b = Runner.from_cfg(_lenet_cfg(f'{work_dir}/fsdp_b', 'env_cfg.fsdp=True', f'resume={first}'))
    b.train()
    dist.destroy_process_group()


def _port_from(port: int, k: int) -> int:
    return port + k  # a fresh rendezvous for each process group


@pytest.mark.slow
def test_two_cpu_processes_sync_bn_fsdp_and_runner(tmp_path):
    """One spawn (process start-up dominates): SyncBN == BN over the global batch; FSDP on a small ViT
    with sharded save/load and a consolidated export; a Runner run with env_cfg.sync_bn=True."""
    ckpt = tmp_path / 'sharded'
    ckpt.mkdir()
    _spawn(_all_worker, str(tmp_path / 'work'), str(ckpt))
    # FSDP: shards and the consolidated export were written
    assert (ckpt / 'consolidated.pth').is_file() and any(p.suffix == '.distcp' for p in ckpt.iterdir())
    # Runner: one checkpoint with plain BN keys (loads without SyncBN)
    ckpts = [p for p in (tmp_path / 'work').rglob('epoch_2.pth') if 'fsdp_' not in str(p)]
    assert len(ckpts) == 1
    sd = torch.load(ckpts[0], weights_only=True)['state_dict']
    assert any(k.endswith('bn1.running_mean') for k in sd)
    # FSDP through the Runner: the checkpoint holds full plain weights (+ optimizer shards beside it), and
    # resuming from epoch 1 reproduces epoch 2 exactly
    a2 = list((tmp_path / 'work' / 'fsdp_a').rglob('epoch_2.pth'))[0]
    b2 = list((tmp_path / 'work' / 'fsdp_b').rglob('epoch_2.pth'))[0]
    assert a2.with_name('epoch_2.shards').is_dir()
    sa, sb = (torch.load(p, weights_only=True)['state_dict'] for p in (a2, b2))
    from fovea.models.backbones.lenet import LeNet5  # noqa: F401  (the plain model loads the consolidated weights)
    assert set(sa) == set(sb) and all(not hasattr(v, 'device_mesh') for v in sa.values())
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6), k


def _runner_worker(rank, world, port, work_dir):
    _init(rank, world, port)
    from fovea.config import Config
    from fovea.engine.runner import Runner
    cfg = Config.fromfile('lenet5_digits', [
        f'work_dir={work_dir}', 'train_cfg.max_epochs=2', 'param_scheduler.1.end=2', 'param_scheduler.0.end=2',
        'train_cfg.val_interval=2',
        'train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=16', 'val_dataloader.dataset.indices=32',
        'env_cfg.precision=fp32', 'env_cfg.dist_cfg.backend=gloo', 'env_cfg.sync_bn=True',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.save_best=None',
        'default_hooks.checkpoint.interval=1'])
    cfg['model']['backbone'] = dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=8, base_channels=8)
    cfg['model']['head']['in_channels'] = 64
    runner = Runner.from_cfg(cfg)
    runner.train()
    bns = [m for m in runner.unwrapped_model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(isinstance(m, NaiveSyncBatchNorm) for m in bns)
    # every rank saw different images, yet the BN statistics agree (they were computed globally)
    mine = torch.cat([m.running_mean for m in bns])
    gathered = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine)
    assert torch.allclose(gathered[0], gathered[1], atol=1e-6)
    assert not torch.allclose(mine, torch.zeros_like(mine))
    dist.destroy_process_group()


# ---------------------------------------------------------------------------- FSDP
class _TinyViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.patch_embed = nn.Linear(12, 16)
        self.backbone.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True) for _ in range(2))
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        x = self.backbone.patch_embed(x)
        for layer in self.backbone.layers:
            x = layer(x)
        return self.head(x.mean(1))


def _fsdp_worker(rank, world, port, ckpt_dir):
    _init(rank, world, port)
    torch.manual_seed(0)
    reference = _TinyViT()
    model = apply_fsdp(copy.deepcopy(reference))
    from torch.distributed.tensor import DTensor
    assert isinstance(model.backbone.layers[0].linear1.weight, DTensor)
    local = model.backbone.layers[0].linear1.weight.to_local()
    assert local.shape[0] == 32 // world  # sharded along dim 0
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randn(4, 5, 12)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    before = model(x).detach()
    save_sharded(ckpt_dir, model, opt)
    full = consolidated_state_dict(model)
    # a fresh sharded model restored from the shards gives the same outputs and continues identically
    model2 = apply_fsdp(copy.deepcopy(reference))
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-2)
    load_sharded(ckpt_dir, model2, opt2)
    assert torch.allclose(model2(x), before, atol=1e-6)
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    assert torch.allclose(model2(x), model(x), atol=1e-6)
    if rank == 0:
        # the consolidated export is a plain state dict for an unwrapped model
        plain = _TinyViT()
        plain.load_state_dict(full)
        assert torch.allclose(plain(x), before, atol=1e-5)
        torch.save(full, os.path.join(ckpt_dir, 'consolidated.pth'))
    else:
        assert full == {}
    dist.destroy_process_group()


def test_gradient_checkpointing_same_gradients():
    torch.manual_seed(0)
    a = _TinyViT()
    b = copy.deepcopy(a)
    assert enable_gradient_checkpointing(b) == 2
    x = torch.randn(3, 5, 12)
    a(x).sum().backward()
    b(x).sum().backward()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)
    with pytest.raises(Exception, match='no blocks'):
        enable_gradient_checkpointing(nn.Linear(2, 2))


def test_fsdp_needs_process_group():
    from fovea.utils.errors import ConfigError
    with pytest.raises(ConfigError, match='torchrun'):
        apply_fsdp(_TinyViT())

"""Models configured with SyncBN (MMPretrain's necks and self-supervised backbones use
norm_cfg=dict(type='SyncBN')) train in a single process with plain BatchNorm and one warning
(mmselfsup#324/#575), and on 2 CPU processes with the all-reduce BatchNorm (torch's SyncBatchNorm
refuses CPU tensors: 'SyncBatchNorm expected input tensor to be on GPU')."""
from __future__ import annotations

import logging

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from dist_testutil import free_port, init_gloo

from fovea.engine.distributed import BatchNormNd, NaiveSyncBatchNorm, fit_sync_batchnorm


def _cfg(work_dir):
    from fovea.config import Config
    cfg = Config.fromfile('lenet5_digits', [
        f'work_dir={work_dir}', 'train_cfg.max_epochs=1', 'param_scheduler=[]', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None', 'train_dataloader.dataset.indices=32',
        'train_dataloader.batch_size=8', 'env_cfg.precision=fp32', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.save_best=None'])
    cfg['model']['backbone'] = dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=8, base_channels=8)
    cfg['model']['neck'] = dict(type='LinearNeck', in_channels=64, out_channels=16, gap_dim=2,
                                norm_cfg=dict(type='SyncBN'))
    cfg['model']['head']['in_channels'] = 16
    return cfg


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_single_process_runs_syncbn_as_plain_batchnorm_with_one_warning(tmp_path):
    from fovea.engine.runner import Runner
    records = _Records()
    logging.getLogger('fovea').addHandler(records)
    try:
        runner = Runner.from_cfg(_cfg(tmp_path))
        runner.train()
    finally:
        logging.getLogger('fovea').removeHandler(records)
    model = runner.unwrapped_model
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    assert isinstance(model.neck.norm, BatchNormNd) and model.neck.norm.num_batches_tracked > 0
    syncbn = [m for m in records.messages if 'SyncBN' in m]
    assert len(syncbn) == 1 and 'neck.norm' in syncbn[0] and 'plain BatchNorm' in syncbn[0], records.messages


def test_the_replacement_keeps_parameters_statistics_and_outputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.SyncBatchNorm(6))
    with torch.no_grad():
        model[1].weight.normal_(), model[1].running_mean.normal_()
    keys = list(model.state_dict())
    x = torch.randn(10, 4)
    expected = nn.functional.batch_norm(model[0](x), None, None, model[1].weight, model[1].bias, True)
    fitted = fit_sync_batchnorm(model, world_size=1, device_type='cpu')
    assert list(fitted.state_dict()) == keys and fitted[1].weight is model[1].weight
    assert torch.allclose(fitted(x), expected, atol=1e-6)
    assert fit_sync_batchnorm(nn.Sequential(nn.SyncBatchNorm(3)), 2, 'cuda')[0].__class__ is nn.SyncBatchNorm


def _two_process_worker(rank, world, port, work_dir):
    init_gloo(rank, world, port)
    from fovea.engine.runner import Runner
    cfg = _cfg(work_dir)
    cfg['env_cfg']['dist_cfg'] = dict(backend='gloo')
    runner = Runner.from_cfg(cfg)
    runner.train()
    norm = runner.unwrapped_model.neck.norm
    assert isinstance(norm, NaiveSyncBatchNorm)
    mean = norm.running_mean.clone()
    gathered = [torch.zeros_like(mean) for _ in range(world)]
    dist.all_gather(gathered, mean)
    assert torch.allclose(gathered[0], gathered[1])       # statistics of the global batch on both ranks
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_cpu_processes_synchronise_syncbn_layers(tmp_path):
    mp.spawn(_two_process_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)

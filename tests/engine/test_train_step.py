"""The training-step contract: models customise loss() and after_optimizer_step(), never train_step;
under DDP (2 gloo processes) such a model still gets all-reduced gradients and equals one process on
the global batch."""
from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from dist_testutil import free_port, init_gloo

from fovea.engine.optim_wrapper import OptimWrapper
from fovea.models.base import BaseModel
from fovea.models.classifiers.image import ImageClassifier
from fovea.models.utils.averaged_model import ExponentialMovingAverage
from fovea.registry import MODELS
from fovea.utils.dist import all_gather_with_grad, concat_all_gather, get_dist_info


def test_a_model_that_defines_train_step_is_refused():
    with pytest.raises(TypeError, match=r'loss\(inputs, data_samples\).*after_optimizer_step'):
        class Custom(BaseModel):  # noqa: F841  (MMEngine-style override that would bypass DDP)
            def train_step(self, data, optim_wrapper):
                return {}


class _Counting(BaseModel):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.calls: list[tuple[int, int | None]] = []

    def loss(self, inputs, data_samples=None):
        return {'loss': self.lin(inputs).pow(2).mean() * self.scale}

    def after_optimizer_step(self, step, max_steps=None):
        self.calls.append((step, max_steps))


def test_after_optimizer_step_follows_real_steps_only_and_survives_resume():
    model = _Counting()
    ow = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=2, skip_nonfinite=True)
    ow.max_steps = 5
    batch = {'inputs': torch.ones(3, 2)}
    model.scale = 1.0
    for _ in range(4):
        model.train_step(batch, ow)
    assert model.calls == [(1, 5), (2, 5)]  # not after the accumulation micro-steps
    model.scale = float('nan')
    model.train_step(batch, ow), model.train_step(batch, ow)
    assert model.calls == [(1, 5), (2, 5)] and ow.skipped_steps == 1  # a skipped step changed no weights
    resumed = _Counting()
    ow2 = OptimWrapper(torch.optim.SGD(resumed.parameters(), lr=0.1), accumulative_counts=2)
    ow2.load_state_dict(ow.state_dict())
    resumed.scale = 1.0
    resumed.train_step(batch, ow2), resumed.train_step(batch, ow2)
    assert resumed.calls == [(4, None)]  # step numbers continue after a resume


# ---------------------------------------------------------------------------- 2 processes
@MODELS.register_module(name='TrainStepContractToy', force=True)
class MomentumToy(ImageClassifier):
    """A classifier whose loss adds a contrastive term over all ranks' samples and a queue filled by a
    momentum encoder after each optimizer step (MoCo-like, on LeNet-5; the queue length is a
    multiple of the global batch, as MoCo requires)."""

    def __init__(self, queue_len: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.momentum_encoder = ExponentialMovingAverage(self.backbone, momentum=0.5)
        self.register_buffer('queue', torch.zeros(queue_len, self.head.in_channels))
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('post_steps', torch.zeros((), dtype=torch.long))
        self.seen_max_steps = None
        self._keys = None

    def loss(self, inputs, data_samples):
        feats = self.extract_feat(inputs)
        losses = self.head.loss(feats, data_samples)
        q = F.normalize(feats[-1], dim=1)
        with torch.no_grad():
            self._keys = F.normalize(self.neck(self.momentum_encoder(inputs))[-1], dim=1)
        everyone = all_gather_with_grad(q)  # the global batch, differentiable
        logits = torch.cat([q @ everyone.T, q @ self.queue.T], 1) / 0.5
        rank = get_dist_info()[0]
        target = torch.arange(len(q)) + rank * len(q)
        losses['loss_contrast'] = F.cross_entropy(logits, target)
        return losses

    def after_optimizer_step(self, step, max_steps=None):
        self.momentum_encoder.update_parameters(self.backbone)
        keys = concat_all_gather(self._keys)
        ptr = int(self.queue_ptr)
        idx = (torch.arange(len(keys)) + ptr) % len(self.queue)
        self.queue[idx] = keys
        self.queue_ptr.fill_((ptr + len(keys)) % len(self.queue))
        self.post_steps += 1
        self.seen_max_steps = max_steps


def _cfg(work_dir, batch_size, *extra):
    from fovea.config import Config
    cfg = Config.fromfile('lenet5_digits', [
        f'work_dir={work_dir}', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10', 'param_scheduler=None',
        'train_dataloader.dataset.indices=128', f'train_dataloader.batch_size={batch_size}',
        'optim_wrapper.accumulative_counts=2', 'env_cfg.precision=fp32', 'env_cfg.dist_cfg.backend=gloo',
        'default_hooks.checkpoint.save_best=None', 'default_hooks.checkpoint.interval=10', 'randomness.seed=0',
        *extra])
    cfg['model']['type'] = 'TrainStepContractToy'
    return cfg


def _train(work_dir, batch_size, *extra):
    from fovea.engine.runner import Runner
    return Runner.from_cfg(_cfg(work_dir, batch_size, *extra)).train()


def _ddp_worker(rank, world, port, work_dir):
    init_gloo(rank, world, port)
    model = _train(work_dir, 16)
    assert int(model.post_steps) == 6 and model.seen_max_steps == 6  # 3 epochs x 4 iterations / 2
    flat = torch.cat([v.flatten().float() for v in model.state_dict().values()])
    other = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(other, flat)
    assert torch.equal(other[0], other[1]), 'the ranks diverged: gradients were not all-reduced'
    if rank == 0:
        torch.save(model.state_dict(), os.path.join(work_dir, 'ddp.pth'))
    # FSDP shards the model in place (the momentum encoder's parameters become shards too)
    from fovea.engine.distributed import consolidated_state_dict
    model = _train(os.path.join(work_dir, 'fsdp'), 16, 'env_cfg.fsdp=True')
    assert int(model.post_steps) == 6
    full = consolidated_state_dict(model)
    if rank == 0:
        torch.save(full, os.path.join(work_dir, 'fsdp.pth'))
    dist.destroy_process_group()


@pytest.mark.slow
def test_custom_loss_and_post_step_side_effects_under_ddp_and_fsdp_match_one_process(tmp_path):
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    single = _train(str(tmp_path / 'single'), 32).state_dict()
    assert any(k.startswith('momentum_encoder.') for k in single) and float(single['queue'].abs().sum()) > 0
    by_row = lambda t: t[t[:, 0].argsort()]  # noqa: E731  (the queue holds the same keys in rank order)
    single['queue'] = by_row(single['queue'])
    for wrapper in ('ddp', 'fsdp'):
        state = torch.load(tmp_path / f'{wrapper}.pth', weights_only=True)
        assert state.keys() == single.keys(), wrapper
        state['queue'] = by_row(state['queue'])
        for k in single:
            torch.testing.assert_close(state[k], single[k], rtol=1e-4, atol=1e-5, msg=f'{wrapper}: {k}')

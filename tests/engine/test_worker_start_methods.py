"""Loader worker processes started with 'spawn' and 'forkserver' (env_cfg.mp_cfg.mp_start_method, as
MMPretrain names it): datasets, transforms, collate and worker_init pickle, and a short training with 2
workers gives bitwise the weights of the same training with 'fork' (the workers' random augmentations
are seeded the same way whatever starts them)."""
from __future__ import annotations

import multiprocessing
import sys

import pytest
import torch

from fovea.config import Config
from fovea.engine.runner import Runner
from fovea.utils.errors import ConfigError

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='fork is Linux-only here')

PIPELINE = [dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='Resize', scale=32, interpolation='bilinear'),
            dict(type='PackInputs')]


def _train(tmp_path, method: str | None) -> tuple[dict, Runner]:
    opts = [f'work_dir={tmp_path / str(method)}', 'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=96',
            'val_dataloader.dataset.indices=64', 'train_dataloader.num_workers=2',
            f'train_dataloader.dataset.pipeline={PIPELINE!r}', 'default_hooks.logger.tensorboard=False',
            'randomness.seed=0', 'env_cfg.mp_cfg.opencv_num_threads=0']
    if method:
        opts.append(f'env_cfg.mp_cfg.mp_start_method={method}')
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', opts))
    model = runner.train()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, runner


@pytest.fixture(scope='module')
def forked(tmp_path_factory):
    return _train(tmp_path_factory.mktemp('fork'), 'fork')[0]


@pytest.mark.parametrize('method', ['spawn', 'forkserver'])
def test_training_with_workers_started_by(method, forked, tmp_path):
    weights, runner = _train(tmp_path, method)
    ctx = runner.train_dataloader.multiprocessing_context
    assert ctx is not None and ctx.get_start_method() == method
    assert runner.val_loop.dataloader.multiprocessing_context is None   # no workers there: nothing to start
    assert weights.keys() == forked.keys()
    for k in weights:
        assert torch.equal(weights[k], forked[k]), k


def test_bad_mp_cfg_is_a_config_error(tmp_path):
    for opt, match in (('env_cfg.mp_cfg.mp_start_method=thread', "'thread' is not a start method"),
                       ('env_cfg.mp_cfg.mp_startmethod=spawn', "Unknown key env_cfg.mp_cfg.mp_startmethod.*mp_start_method")):
        with pytest.raises(ConfigError, match=match):
            Runner.from_cfg(Config.fromfile('lenet5_digits', [f'work_dir={tmp_path}', 'train_dataloader.num_workers=2',
                                                              opt])).train()
    assert 'forkserver' in multiprocessing.get_all_start_methods()

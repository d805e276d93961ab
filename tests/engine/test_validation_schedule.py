"""When the training loops validate: every val_interval from val_begin, after the last epoch/iteration
even when it is not a multiple of the interval, and with MMEngine's dynamic_intervals."""
from __future__ import annotations

import pytest
from torch import nn

from fovea.engine.loops import EpochBasedTrainLoop, IterBasedTrainLoop
from fovea.utils.errors import ConfigError


class _Runner:
    """What the loops read from a runner; validations are recorded as the epoch/iteration they follow."""

    def __init__(self):
        self.epoch = self.iter = 0
        self.epoch_length = 4
        self.stop_requested = False
        self.model = nn.Identity()
        self.validated: list[int] = []
        runner = self

        class _Val:
            def run(self):
                runner.validated.append(runner.done)
        self.val_loop = _Val()

    def call_hook(self, *args, **kwargs):
        pass


def _epochs(**cfg) -> list[int]:
    r = _Runner()
    loop = EpochBasedTrainLoop(r, dataloader=[0] * 4, **cfg)

    def run_epoch():
        r.epoch += 1
        r.done = r.epoch
    loop.run_epoch = run_epoch
    loop.run()
    return r.validated


def _iters(**cfg) -> list[int]:
    r = _Runner()
    loop = IterBasedTrainLoop(r, dataloader=[0] * 4, **cfg)

    def step(idx, batch):
        r.iter += 1
        r.done = r.iter
    loop._step = step
    loop.run()
    return r.validated


@pytest.mark.parametrize('cfg,expected', [
    (dict(max_epochs=5, val_interval=2), [2, 4, 5]),            # the last epoch is validated too
    (dict(max_epochs=6, val_interval=2), [2, 4, 6]),
    (dict(max_epochs=5, val_interval=2, val_begin=3), [4, 5]),
    (dict(max_epochs=3, val_interval=5), [3]),
    # MMEngine: the interval for the check after epoch e is the one of the milestone <= e + 1
    (dict(max_epochs=7, val_interval=3, dynamic_intervals=[(5, 1)]), [3, 4, 5, 6, 7]),
    (dict(max_epochs=12, val_interval=1, dynamic_intervals=[(3, 4), (9, 2)]), [1, 4, 8, 10, 12]),
], ids=str)
def test_epoch_loop_validation_schedule(cfg, expected):
    assert _epochs(**cfg) == expected


@pytest.mark.parametrize('cfg,expected', [
    (dict(max_iters=10, val_interval=4), [4, 8, 10]),
    (dict(max_iters=8, val_interval=4), [4, 8]),
    (dict(max_iters=10, val_interval=3, dynamic_intervals=[(6, 2)]), [3, 6, 8, 10]),
], ids=str)
def test_iter_loop_validation_schedule(cfg, expected):
    assert _iters(**cfg) == expected


@pytest.mark.parametrize('bad', [[(5,)], [(5, 1), (3, 2)], [('5', 1)], 5])
def test_bad_dynamic_intervals_are_config_errors(bad):
    with pytest.raises(ConfigError, match='train_cfg.dynamic_intervals'):
        EpochBasedTrainLoop(_Runner(), dataloader=[0] * 4, max_epochs=3, dynamic_intervals=bad)

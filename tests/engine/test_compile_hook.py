"""CompileTimeHook: the first iteration's extra time is reported as the compile time."""
from __future__ import annotations

import logging
import time

import pytest

from fovea.engine.speed import CompileTimeHook


class _Runner:
    def __init__(self):
        self.iter, self.max_iters = 0, 100
        self.logger = logging.getLogger('fovea')


def test_compile_time_is_first_minus_steady(caplog):
    hook, runner = CompileTimeHook(n=3), _Runner()
    with caplog.at_level(logging.INFO, logger='fovea'):
        for i, dur in enumerate([0.30, 0.02, 0.02, 0.02, 0.02]):
            hook.before_train_iter(runner, i)
            time.sleep(dur)
            hook.after_train_iter(runner, i)
            runner.iter += 1
    assert hook.compile_time == pytest.approx(0.28, abs=0.08)
    assert caplog.text.count('torch.compile: first iteration') == 1

"""Speed diagnostics: how long ``torch.compile`` takes, logged once per run."""
from __future__ import annotations

import time

from fovea.engine.hooks import Hook
from fovea.registry import HOOKS

__all__ = ['CompileTimeHook']


@HOOKS.register_module()
class CompileTimeHook(Hook):
    """Logs the first training iteration's time (which includes compilation when ``env_cfg.compile``
    is on) against the next ``n`` iterations, i.e. what compiling cost. The Runner adds it by itself
    when compiling."""
    priority = 'VERY_LOW'

    def __init__(self, n: int = 5):
        self.n = n
        self._times: list[float] = []
        self._t = 0.

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._t = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if len(self._times) > self.n:
            return
        self._times.append(time.perf_counter() - self._t)
        if len(self._times) == self.n + 1 or runner.iter + 1 == runner.max_iters:
            first, rest = self._times[0], self._times[1:] or [0.]
            steady = sorted(rest)[len(rest) // 2]
            self.compile_time = max(first - steady, 0.)
            runner.logger.info(f'torch.compile: first iteration {first:.2f} s, then {steady:.3f} s per iteration '
                               f'-> compilation took about {self.compile_time:.1f} s')
            self._times.append(float('inf'))  # done

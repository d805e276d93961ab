"""Training, validation and test loops (MMEngine's names and arguments).

One training iteration, top to bottom::

    batch = next(loader)                                    # workers: decode + augment, collate
    hooks.before_train_iter
    log_vars = model.train_step(batch, optim_wrapper)       # preprocess on device, forward,
                                                            # loss, backward, step (every N)
    hooks.after_train_iter                                  # schedulers, logging, checkpoints
"""
from __future__ import annotations

import bisect
from typing import Any, Iterator

import torch
from torch.utils.data import Sampler

from fovea.engine.checkpoint import get_rng_state, set_rng_state
from fovea.evaluation.base import Evaluator
from fovea.registry import LOOPS
from fovea.utils.errors import ConfigError

__all__ = ['EpochBasedTrainLoop', 'IterBasedTrainLoop', 'ValLoop', 'TestLoop']


class _SkipSampler(Sampler[int]):
    """The first ``n`` indices of ``sampler`` dropped without loading them (resuming mid-epoch)."""

    def __init__(self, sampler, n: int):
        self.sampler, self.n = sampler, n

    def __iter__(self) -> Iterator[int]:
        it = iter(self.sampler)
        for _ in range(self.n):
            next(it, None)
        return it

    def __len__(self) -> int:
        return max(len(self.sampler) - self.n, 0)


def _batches(loader, skip_batches: int) -> Iterator[tuple[int, Any]]:
    """Enumerate ``loader`` starting at batch ``skip_batches`` (indices skipped in the sampler)."""
    bs = getattr(loader, 'batch_sampler', None)
    if skip_batches and bs is not None and hasattr(bs, 'sampler') and hasattr(bs, 'batch_size'):
        original = bs.sampler
        bs.sampler = _SkipSampler(original, skip_batches * bs.batch_size)
        try:
            yield from enumerate(loader, start=skip_batches)
        finally:
            bs.sampler = original
    else:
        for i, batch in enumerate(loader):
            if i >= skip_batches:
                yield i, batch


class _TrainLoop:
    by_epoch: bool

    def __init__(self, runner, dataloader):
        self.runner = runner
        self.dataloader = dataloader

    def _step(self, idx: int, batch: Any) -> None:
        r = self.runner
        r.call_hook('before_train_iter', batch_idx=idx, data_batch=batch)
        outputs = r.model.train_step(batch, r.optim_wrapper)
        r.in_iter_end = True  # a checkpoint saved by these hooks already contains this iteration
        try:
            r.call_hook('after_train_iter', batch_idx=idx, data_batch=batch, outputs=outputs)
        finally:
            r.in_iter_end = False
        r.iter += 1

    def _set_val_intervals(self, val_interval: int, dynamic_intervals: Any) -> None:
        """``dynamic_intervals=[(milestone, interval), ...]``: from ``milestone`` on (epochs or iterations),
        validate every ``interval`` (MMEngine's semantics)."""
        self.val_interval = val_interval
        self._milestones, self._intervals = [0], [val_interval]
        if dynamic_intervals is not None and not isinstance(dynamic_intervals, (list, tuple)):
            raise ConfigError(f'train_cfg.dynamic_intervals must be a list of (milestone, interval) pairs, '
                              f'got {dynamic_intervals!r}')
        for item in dynamic_intervals or ():
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(v, int) for v in item)):
                raise ConfigError(f'train_cfg.dynamic_intervals must be a list of (milestone, interval) pairs of '
                                  f'whole numbers, got {dynamic_intervals!r}')
            if item[0] <= self._milestones[-1]:
                raise ConfigError(f'train_cfg.dynamic_intervals milestones must increase, got {dynamic_intervals!r}')
            self._milestones.append(item[0])
            self._intervals.append(item[1])

    def _maybe_validate(self, done: int, last: int) -> None:
        """Validate after ``done`` epochs/iterations every ``val_interval`` from ``val_begin``, and always
        after the last one (as MMEngine does)."""
        self.val_interval = self._intervals[bisect.bisect(self._milestones, done + 1) - 1]
        interval = self.val_interval
        if self.runner.val_loop is not None and interval > 0 and done >= self.val_begin and (
                done % interval == 0 or done == last):
            self.runner.val_loop.run()


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoop):
    """Train for ``max_epochs``; validate every ``val_interval`` epochs from epoch ``val_begin`` and after the
    last epoch; ``dynamic_intervals=[(epoch, interval), ...]`` changes the interval from those epochs on."""
    by_epoch = True

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1, val_interval: int = 1,
                 dynamic_intervals: Any = None):
        super().__init__(runner, dataloader)
        if max_epochs < 1:
            raise ConfigError(f'train_cfg.max_epochs must be >= 1, got {max_epochs}')
        self.max_epochs, self.val_begin = int(max_epochs), val_begin
        self._set_val_intervals(val_interval, dynamic_intervals)
        self.max_iters = self.max_epochs * len(dataloader)

    def run(self) -> None:
        r = self.runner
        r.call_hook('before_train')
        while r.epoch < self.max_epochs and not r.stop_requested:
            self.run_epoch()
            if r.stop_requested:
                break
            self._maybe_validate(r.epoch, self.max_epochs)
        r.call_hook('after_train')

    def run_epoch(self) -> None:
        r = self.runner
        r.call_hook('before_train_epoch')
        r.model.train()
        skip = r.iter - r.epoch * r.epoch_length  # > 0 only when resuming mid-epoch
        for idx, batch in _batches(self.dataloader, skip):
            self._step(idx, batch)
            if r.stop_requested:
                return
        r.in_epoch_end = True
        try:
            r.call_hook('after_train_epoch')
        finally:
            r.in_epoch_end = False
        r.epoch += 1


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoop):
    """Train for ``max_iters`` iterations, cycling the loader; validate every ``val_interval`` iterations
    and after the last one (``dynamic_intervals`` as in :class:`EpochBasedTrainLoop`)."""
    by_epoch = False

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1, val_interval: int = 1000,
                 dynamic_intervals: Any = None):
        super().__init__(runner, dataloader)
        if max_iters < 1:
            raise ConfigError(f'train_cfg.max_iters must be >= 1, got {max_iters}')
        self.max_iters, self.val_begin = int(max_iters), val_begin
        self._set_val_intervals(val_interval, dynamic_intervals)
        self.max_epochs = 1

    def run(self) -> None:
        r = self.runner
        r.call_hook('before_train')
        r.call_hook('before_train_epoch')
        r.model.train()
        n = max(r.epoch_length, 1)
        while r.iter < self.max_iters and not r.stop_requested:
            sampler = getattr(self.dataloader, 'sampler', None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(r.iter // n)
            for _, batch in _batches(self.dataloader, r.iter % n):
                self._step(r.iter, batch)
                if r.stop_requested or r.iter >= self.max_iters:
                    break
                self._maybe_validate(r.iter, self.max_iters)
                r.model.train()
        if not r.stop_requested:
            self._maybe_validate(r.iter, self.max_iters)
            r.call_hook('after_train_epoch')
        r.call_hook('after_train')


class _EvalLoop:
    phase = 'val'

    def __init__(self, runner, dataloader, evaluator: Any, fp16: bool = False):
        self.runner = runner
        self.dataloader = dataloader
        self.evaluator = evaluator if isinstance(evaluator, Evaluator) else Evaluator(evaluator)
        self.evaluator.dataset_meta = getattr(dataloader.dataset, 'metainfo', None)

    @torch.no_grad()
    def run(self) -> dict[str, Any]:
        """Evaluate; training randomness is untouched (RNG states are restored afterwards)."""
        r, p = self.runner, self.phase
        rng = get_rng_state()
        model = r.unwrapped_model
        was_training = model.training
        r.call_hook(f'before_{p}')
        r.call_hook(f'before_{p}_epoch')
        model.eval()
        for idx, batch in enumerate(self.dataloader):
            r.call_hook(f'before_{p}_iter', batch_idx=idx, data_batch=batch)
            with r.autocast():
                outputs = model.val_step(batch) if p == 'val' else model.test_step(batch)
            self.evaluator.process(outputs, batch)
            r.call_hook(f'after_{p}_iter', batch_idx=idx, data_batch=batch, outputs=outputs)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        r.call_hook(f'after_{p}_epoch', metrics=metrics)
        r.call_hook(f'after_{p}')
        model.train(was_training)
        set_rng_state(rng)
        r.last_metrics[p] = metrics
        return metrics


@LOOPS.register_module()
class ValLoop(_EvalLoop):
    phase = 'val'


@LOOPS.register_module()
class TestLoop(_EvalLoop):
    phase = 'test'

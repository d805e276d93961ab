"""Weight averaging (EMA) and precise BatchNorm statistics, as config switches.

    custom_hooks = [dict(type='EMAHook', momentum=1e-4, interval=1, evaluate_on_origin=True)]
    custom_hooks = [dict(type='PreciseBNHook', num_samples=8192, interval=1)]

The averaged models (``ExponentialMovingAverage``, ``MomentumAnnealingEMA``: ``momentum`` is
the weight of the new value, as in MMEngine) live in :mod:`fovea.models.utils.averaged_model`,
so that momentum encoders can use them too. ``EMAHook`` (MMEngine/MMPretrain
arguments) updates the average after every optimizer step, validates/tests on the averaged
weights (``evaluate_on_ema``), optionally also on the original ones (``evaluate_on_origin``,
reported as ``<metric>_origin``), and saves checkpoints whose ``state_dict`` holds the averaged
weights (ready for inference) with the original ones under ``ema_state_dict``, as MMEngine does.

EMA of weights: Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", 1992.
Precise BN: Wu & Johnson, "Rethinking 'Batch' in BatchNorm", arXiv:2105.07576.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
from typing import Any

import torch
from torch import nn

from fovea.engine.hooks import Hook
from fovea.models.utils.averaged_model import BaseAveragedModel
from fovea.registry import HOOKS, MODELS, build
from fovea.utils.dist import get_dist_info, is_distributed
from fovea.utils.errors import ConfigError

__all__ = ['EMAHook', 'PreciseBNHook', 'update_bn_stats']

logger = logging.getLogger('fovea')


@HOOKS.register_module()
class EMAHook(Hook):
    """Keep an EMA of the model's weights; evaluate and checkpoint with it (MMPretrain's EMAHook).

    Args:
        ema_type: 'ExponentialMovingAverage' or 'MomentumAnnealingEMA' (warmup), or a class.
        strict_load: when resuming, require ``ema_state_dict`` to match the model exactly.
        begin_iter / begin_epoch: before this point the EMA just copies the weights.
        evaluate_on_ema: validate and test on the averaged weights.
        evaluate_on_origin: validate also (or only) on the original weights; with both, the original
            model's metrics are added as ``<name>_origin``.
        **kwargs: for the EMA model: ``momentum``, ``interval``, ``update_buffers``, ``gamma``.
    """
    priority = 'NORMAL'

    def __init__(self, ema_type: str | type = 'ExponentialMovingAverage', strict_load: bool = False,
                 begin_iter: int = 0, begin_epoch: int = 0, evaluate_on_ema: bool = True,
                 evaluate_on_origin: bool = False, **kwargs: Any):
        if begin_iter < 0 or begin_epoch < 0:
            raise ConfigError('EMAHook begin_iter and begin_epoch must be >= 0')
        if begin_iter and begin_epoch:
            raise ConfigError('EMAHook: give begin_iter or begin_epoch, not both')
        if not (evaluate_on_ema or evaluate_on_origin):
            raise ConfigError('EMAHook: evaluate_on_ema and evaluate_on_origin are both False; set one of them')
        self.ema_cfg = dict(type=ema_type, **kwargs)
        self.strict_load = strict_load
        self.begin_iter, self.begin_epoch = begin_iter, begin_epoch
        self.evaluate_on_ema, self.evaluate_on_origin = evaluate_on_ema, evaluate_on_origin
        self.ema_model: BaseAveragedModel | None = None
        self.src_model: nn.Module | None = None
        self._in_origin_eval = False

    # ---- set-up
    def _ensure(self, runner) -> None:
        if self.ema_model is None:
            self.src_model = runner.unwrapped_model
            self.ema_model = build(self.ema_cfg, MODELS, key='custom_hooks.EMAHook', model=self.src_model)

    def before_run(self, runner) -> None:
        self._ensure(runner)

    def before_train(self, runner) -> None:
        if runner.train_loop.by_epoch and self.begin_epoch >= runner.max_epochs:
            raise ConfigError(f'EMAHook begin_epoch ({self.begin_epoch}) must be smaller than max_epochs '
                              f'({runner.max_epochs})')
        if self.begin_iter >= max(runner.max_iters, 1):
            raise ConfigError(f'EMAHook begin_iter ({self.begin_iter}) must be smaller than max_iters '
                              f'({runner.max_iters})')

    def _started(self, runner) -> bool:
        if self.begin_epoch > 0:  # MMEngine's test: epoch + 1 >= begin_epoch
            return runner.epoch + 1 >= self.begin_epoch
        return runner.iter + 1 >= self.begin_iter

    # ---- training
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        ow = runner.optim_wrapper
        if ow is not None and getattr(ow, '_inner_count', 0) % getattr(ow, 'accumulative_counts', 1) != 0:
            return  # an accumulation micro-step: the weights did not change
        if self._started(runner):
            self.ema_model.update_parameters(self.src_model)
        else:
            with torch.no_grad():
                src = self.src_model.state_dict()
                for k, v in self.ema_model.module.state_dict().items():
                    v.copy_(src[k])

    # ---- evaluation on the averaged weights
    def _swap(self) -> None:
        avg = self.ema_model.avg_parameters
        src = self.src_model.state_dict(keep_vars=True) if self.ema_model.update_buffers else dict(
            self.src_model.named_parameters())
        with torch.no_grad():
            for k, p_avg in avg.items():
                tmp = p_avg.data.clone()
                p_avg.data.copy_(src[k].data)
                src[k].data.copy_(tmp)

    def before_val_epoch(self, runner) -> None:
        if self.evaluate_on_ema and not self._in_origin_eval:
            self._swap()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._in_origin_eval:
            return
        if self.evaluate_on_ema:
            self._swap()
        if self.evaluate_on_ema and self.evaluate_on_origin and metrics is not None:
            loop = runner.val_loop
            origin = self._evaluate(runner, loop.dataloader, loop.evaluator)
            metrics.update({f'{k}_origin': v for k, v in origin.items()})

    def before_test_epoch(self, runner) -> None:
        if self.evaluate_on_ema:
            self._swap()

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.evaluate_on_ema:
            self._swap()

    @torch.no_grad()
    def _evaluate(self, runner, dataloader, evaluator) -> dict:
        model = runner.unwrapped_model
        model.eval()
        self._in_origin_eval = True
        try:
            for batch in dataloader:
                with runner.autocast():
                    outputs = model.val_step(batch)
                evaluator.process(outputs, batch)
            return evaluator.evaluate(len(dataloader.dataset))
        finally:
            self._in_origin_eval = False

    # ---- checkpoints: state_dict <-> EMA weights, as MMEngine
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._ensure(runner)
        ema_state = {k: v.detach().cpu() for k, v in self.ema_model.state_dict().items()}
        checkpoint['ema_state_dict'] = ema_state
        self._swap_state_dicts(checkpoint)

    @staticmethod
    def _swap_state_dicts(checkpoint: dict) -> None:
        model_state, ema_state = checkpoint['state_dict'], checkpoint['ema_state_dict']
        for k in list(ema_state):
            if k.startswith('module.') and k[7:] in model_state:
                ema_state[k], model_state[k[7:]] = model_state[k[7:]], ema_state[k]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume: the model gets its original weights back and the EMA its averaged ones."""
        self._ensure(runner)
        if 'ema_state_dict' in checkpoint:
            ckpt = {'state_dict': dict(checkpoint['state_dict']), 'ema_state_dict': dict(checkpoint['ema_state_dict'])}
            self._swap_state_dicts(ckpt)
            runner.unwrapped_model.load_state_dict(ckpt['state_dict'], strict=False)
            missing, unexpected = self.ema_model.load_state_dict(ckpt['ema_state_dict'], strict=False)
            if self.strict_load and (missing or unexpected):
                from fovea.utils.errors import CheckpointError
                raise CheckpointError(f'EMAHook(strict_load=True): ema_state_dict does not match the model: '
                                      f'missing {missing[:5]}, unexpected {unexpected[:5]}')
        else:
            logger.warning('The checkpoint has no ema_state_dict: the EMA starts from its model weights.')
            self.ema_model.module.load_state_dict(checkpoint['state_dict'], strict=self.strict_load)


# ---------------------------------------------------------------------------- precise BN
def _bn_modules(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def update_bn_stats(model: nn.Module, data_loader, num_iters: int, autocast=None) -> int:
    """Recompute BatchNorm running statistics of ``model`` as the exact average over ``num_iters``
    training batches (preprocessed without batch augments), averaged across processes.
    Returns the number of batches used."""
    bns = _bn_modules(model)
    if not bns:
        return 0
    was_training = model.training
    model.train()
    saved = [(bn.momentum, bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    means = [torch.zeros_like(bn.running_mean) for bn in bns]
    vars_ = [torch.zeros_like(bn.running_var) for bn in bns]
    for bn in bns:
        bn.momentum = 1.  # running stats = this batch's stats
    n = 0
    for batch in itertools.islice(data_loader, num_iters):
        data = model.data_preprocessor(batch, False)
        with autocast() if autocast is not None else contextlib.nullcontext():
            model(data['inputs'], data.get('data_samples'), mode='tensor')
        n += 1
        for i, bn in enumerate(bns):
            means[i] += (bn.running_mean - means[i]) / n
            vars_[i] += (bn.running_var - vars_[i]) / n
    for i, bn in enumerate(bns):
        if n == 0:
            bn.running_mean.copy_(saved[i][1])
            bn.running_var.copy_(saved[i][2])
        else:
            if is_distributed():
                import torch.distributed as dist
                ws = get_dist_info()[1]
                for t in (means[i], vars_[i]):
                    dist.all_reduce(t)
                    t /= ws
            bn.running_mean.copy_(means[i])
            bn.running_var.copy_(vars_[i])
        bn.momentum = saved[i][0]
    model.train(was_training)
    return n


@HOOKS.register_module()
class PreciseBNHook(Hook):
    """Recompute BN statistics with the current weights before validation (MMPretrain's PreciseBNHook).

    Args:
        num_samples: training images to use (across all processes).
        interval: every this many epochs (iterations for iteration-based training).
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self, num_samples: int = 8192, interval: int = 1):
        if num_samples < 1 or interval < 1:
            raise ConfigError('PreciseBNHook num_samples and interval must be >= 1')
        self.num_samples, self.interval = num_samples, interval

    def _run(self, runner) -> None:
        loader = runner.train_dataloader
        bs = getattr(loader, 'batch_size', None) or 1
        num_iters = max(1, self.num_samples // (bs * runner.world_size))
        model = runner.unwrapped_model
        n = update_bn_stats(model, loader, min(num_iters, len(loader)), runner.autocast)
        runner.logger.info(f'PreciseBN: recomputed BatchNorm statistics from {n * bs * runner.world_size} images')

    def after_train_epoch(self, runner) -> None:
        if runner.train_loop.by_epoch and self.every_n_epochs(runner, self.interval):
            self._run(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not runner.train_loop.by_epoch and self.every_n_train_iters(runner, self.interval):
            self._run(runner)

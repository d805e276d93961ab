"""The hooks of MMPretrain's self-supervised configs: SimSiamHook, DenseCLHook, SwAVHook.

They change training settings from the outside, between iterations (a group's learning rate, a loss
weight, which parameters train, when a queue exists); the model's own per-step state (momentum
encoders, queue pushes) follows the optimizer steps in ``after_optimizer_step``.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from fovea.engine.hooks import Hook
from fovea.registry import HOOKS
from fovea.utils.errors import ConfigError

__all__ = ['SimSiamHook', 'DenseCLHook', 'SwAVHook']


@HOOKS.register_module()
class SimSiamHook(Hook):
    """Keep the learning rate of the parameter groups marked ``fix_lr=True`` (SimSiam's predictor, via
    ``paramwise_cfg.custom_keys={'predictor': dict(fix_lr=True)}``) at ``lr``.

    Args:
        fix_pred_lr: do it at all.
        lr: the fixed learning rate.
        adjust_by_epoch: reset it before every epoch (MMPretrain's default: an iteration-based
            scheduler then moves it within an epoch), or before every iteration.
    """

    def __init__(self, fix_pred_lr: bool, lr: float, adjust_by_epoch: bool = True):
        self.fix_pred_lr, self.lr, self.adjust_by_epoch = fix_pred_lr, lr, adjust_by_epoch

    def _fix(self, runner) -> None:
        if not self.fix_pred_lr:
            return
        for group in runner.optim_wrapper.optimizer.param_groups:
            if group.get('fix_lr'):
                group['lr'] = self.lr

    def before_train(self, runner) -> None:
        if self.fix_pred_lr and not any(g.get('fix_lr') for g in runner.optim_wrapper.optimizer.param_groups):
            logging.getLogger('fovea').warning(
                "SimSiamHook(fix_pred_lr=True) finds no parameter group with fix_lr=True, so it fixes nothing: "
                "add optim_wrapper.paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}).")

    def before_train_epoch(self, runner) -> None:
        self._fix(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.adjust_by_epoch:
            self._fix(runner)


@HOOKS.register_module()
class DenseCLHook(Hook):
    """Hold DenseCL's ``loss_lambda`` (the dense loss's weight) at 0 for the first ``start_iters``
    iterations, then restore the configured value (the DenseCL authors' warm-up)."""

    def __init__(self, start_iters: int = 1000):
        self.start_iters = start_iters
        self.loss_lambda: float | None = None

    def _model(self, runner) -> nn.Module:
        model = runner.unwrapped_model
        if not hasattr(model, 'loss_lambda'):
            raise ConfigError(f'DenseCLHook needs a model with loss_lambda (DenseCL), got {type(model).__name__}; '
                              f'remove it from custom_hooks.')
        return model

    def before_train(self, runner) -> None:
        self.loss_lambda = self._model(runner).loss_lambda

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._model(runner).loss_lambda = self.loss_lambda if runner.iter >= self.start_iters else 0.


@HOOKS.register_module()
class SwAVHook(Hook):
    """SwAV's schedule: from epoch ``epoch_queue_starts`` the loss keeps a queue of the
    ``queue_length`` (over all ranks) most recent embeddings of the assigned crops, and the parameters
    whose names contain a key of ``frozen_layers_cfg`` do not train for that many iterations
    (``dict(prototypes=5005)``: SwAV's frozen prototypes, the first epoch of ImageNet at batch 256).

    Args:
        batch_size: images per process per iteration (the queue length is rounded down to a multiple
            of the global batch).
        epoch_queue_starts / crops_for_assign / feat_dim / queue_length: the queue.
        interval: MMPretrain saves the queue to the work directory every ``interval`` epochs; fovea keeps
            it in memory only: after a resume it refills within ``queue_length / global batch``
            iterations before it is used, as at ``epoch_queue_starts``.
        frozen_layers_cfg: ``{name substring: iterations}``.

    Frozen parameters get no gradient (``requires_grad=False``, the optimizer leaves them alone, as
    the SwAV authors' ``p.grad = None``); under DistributedDataParallel that needs
    ``find_unused_parameters=True`` (MMPretrain's SwAV config sets it).
    """

    def __init__(self, batch_size: int, epoch_queue_starts: int | None = 15, crops_for_assign: list[int] = [0, 1],
                 feat_dim: int = 128, queue_length: int = 0, interval: int = 1,
                 frozen_layers_cfg: dict | None = None):
        self.batch_size = batch_size
        self.epoch_queue_starts = epoch_queue_starts
        self.crops_for_assign = list(crops_for_assign)
        self.feat_dim = feat_dim
        self.queue_length = queue_length
        self.interval = interval
        self.frozen_layers_cfg = dict(frozen_layers_cfg or {})
        self._frozen: dict[str, bool] = {}

    @staticmethod
    def _loss_module(runner) -> nn.Module:
        module = getattr(getattr(runner.unwrapped_model, 'head', None), 'loss_module', None)
        if module is None or not hasattr(module, 'use_queue'):
            raise ConfigError(f'SwAVHook needs a SwAV model (model.head.loss a SwAVLoss), got '
                              f'{type(runner.unwrapped_model).__name__}; remove it from custom_hooks.')
        return module

    def before_run(self, runner) -> None:
        self._loss_module(runner)
        global_batch = self.batch_size * runner.world_size
        if self.queue_length > 0:
            self.queue_length -= self.queue_length % global_batch
            if self.queue_length == 0:
                raise ConfigError(f'SwAVHook queue_length is shorter than the global batch ({global_batch} = '
                                  f'batch_size x processes); raise custom_hooks SwAVHook.queue_length or set it to 0.')
        ddp = runner.model
        if (self.frozen_layers_cfg and isinstance(ddp, nn.parallel.DistributedDataParallel)
                and not ddp.find_unused_parameters):
            raise ConfigError('SwAVHook frozen_layers_cfg freezes parameters that DistributedDataParallel then '
                              'waits for: set find_unused_parameters=True in the config (MMPretrain\'s SwAV config '
                              'does).')

    def before_train_epoch(self, runner) -> None:
        loss = self._loss_module(runner)
        if (self.queue_length > 0 and self.epoch_queue_starts is not None
                and runner.epoch >= self.epoch_queue_starts and loss.queue is None):
            loss.queue = torch.zeros(len(self.crops_for_assign), self.queue_length // runner.world_size,
                                     self.feat_dim, device=loss.prototypes.weight.device)
            logging.getLogger('fovea').info(f'SwAVHook: epoch {runner.epoch + 1} starts the queue '
                                            f'({self.queue_length} embeddings over all processes)')
        loss.use_queue = False

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for layer, iters in self.frozen_layers_cfg.items():
            frozen = runner.iter < iters
            if self._frozen.get(layer) == frozen:
                continue
            self._frozen[layer] = frozen
            for name, p in runner.unwrapped_model.named_parameters():
                if layer in name:
                    p.requires_grad_(not frozen)

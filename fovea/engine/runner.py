"""Runner: builds everything a config describes and runs training, validation or testing.

    runner = Runner.from_cfg(Config.fromfile('lenet5_digits'))
    runner.train()      # or runner.test()

Set-up order (train): process group -> seed -> model (init, load_from, device,
channels_last, DDP, compile) -> dataloaders -> optimizer wrapper (auto-scaled LR)
-> schedulers -> hooks -> resume -> loops.
"""
from __future__ import annotations

import copy
import functools
import logging
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import fovea
from fovea.config import Config, ConfigDict
from fovea.data.loader import build_dataloader
from fovea.engine.checkpoint import LAST_CHECKPOINT, checkpoint_candidates, get_rng_state, read_meta, \
    save_checkpoint, set_rng_state
from fovea.engine.hooks import PRIORITIES, Hook
from fovea.engine.optim_constructor import build_optim_wrapper
from fovea.engine.optim_wrapper import autocast, model_precision, resolve_precision
from fovea.engine.schedulers import build_param_schedulers
from fovea.models.weights import load_weights
from fovea.registry import HOOKS, LOOPS, MODELS, build, key_scope
from fovea.utils.dist import barrier, broadcast_object, fail_together, get_dist_info, init_dist, is_main_process
from fovea.utils.errors import CheckpointError, ConfigError, FoveaError, did_you_mean
from fovea.utils.weights import checkpoint_info, read_weights

__all__ = ['Runner', 'NonFiniteLossError', 'TrainingInterrupted']

DEFAULT_HOOKS = {
    'timer': dict(type='IterTimerHook'),
    'logger': dict(type='LoggerHook', interval=10),
    'param_scheduler': dict(type='ParamSchedulerHook'),
    'checkpoint': dict(type='CheckpointHook', interval=1),
    'sampler_seed': dict(type='DistSamplerSeedHook'),
}

_RANDOMNESS_KEYS = ('seed', 'deterministic', 'diff_rank_seed')


class NonFiniteLossError(FoveaError, FloatingPointError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(FoveaError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint."""


class _DDP(nn.parallel.DistributedDataParallel):
    """DDP whose ``train_step`` runs the forward through DDP (so gradients are all-reduced)."""

    def train_step(self, data: dict, optim_wrapper) -> dict:
        return self.module.train_step(data, optim_wrapper, forward=self)

    def val_step(self, data: dict):
        return self.module.val_step(data)

    def test_step(self, data: dict):
        return self.module.test_step(data)


def _logs_fatal_errors(method):
    """Record an exception that ends ``train``/``val``/``test`` (type, message, traceback) in the run's log
    file before it propagates; the console shows only the CLI's one-paragraph error."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException as exc:
            if self._log_file is not None:
                self._log_file.handle(self.logger.makeRecord(
                    self.logger.name, logging.ERROR, __file__, 0, f'{method.__name__} failed: {type(exc).__name__}: '
                    f'{exc}', None, (type(exc), exc, exc.__traceback__)))
                self._log_file.flush()
            raise
    return wrapper


def set_random_seed(seed: int, deterministic: bool = False, diff_rank_seed: bool = False) -> int:
    if diff_rank_seed:
        seed += get_dist_info()[0]
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    return seed


class Runner:
    """Runs the experiment a config describes (MMEngine's Runner arguments).

    fovea additions in ``env_cfg``: ``device`` ('auto' | 'cpu' | 'cuda'), ``precision``
    ('auto' | 'fp32' | 'bf16' | 'fp16'), ``channels_last`` ('auto' | True | False),
    ``compile`` (False | True | dict of torch.compile options), ``num_threads`` / ``worker_threads``
    (intra-op threads of the main process / of each loader worker, 'auto' by default: see
    :func:`fovea.utils.threads.plan_threads`).
    """

    def __init__(self, model: dict | nn.Module, work_dir: str | None = None, train_dataloader: dict | None = None,
                 val_dataloader: dict | None = None, test_dataloader: dict | None = None,
                 train_cfg: dict | None = None, val_cfg: dict | None = None, test_cfg: dict | None = None,
                 auto_scale_lr: dict | None = None, optim_wrapper: dict | None = None,
                 param_scheduler: dict | list | None = None, val_evaluator: Any = None, test_evaluator: Any = None,
                 default_hooks: dict | None = None, custom_hooks: list | None = None,
                 load_from: str | None = None, load_from_ema: bool | None = None, resume: bool | str = False,
                 launcher: str = 'none',
                 env_cfg: dict | None = None, randomness: dict | None = None, log_level: str = 'INFO',
                 experiment_name: str | None = None, cfg: Config | dict | None = None):
        self.cfg = cfg if cfg is not None else Config({})
        self._model_cfg = model
        self._train_loader_cfg, self._val_loader_cfg, self._test_loader_cfg = \
            train_dataloader, val_dataloader, test_dataloader
        self._train_cfg, self._val_cfg, self._test_cfg = train_cfg, val_cfg, test_cfg
        self._val_evaluator_cfg, self._test_evaluator_cfg = val_evaluator, test_evaluator
        self._optim_cfg, self._sched_cfg = optim_wrapper, param_scheduler
        self.auto_scale_lr = auto_scale_lr
        self.load_from, self.load_from_ema, self.resume_from = load_from, load_from_ema, resume
        self.env_cfg = dict(env_cfg or {})
        _check_launcher(launcher)
        self.randomness = dict(randomness or {})
        for k in self.randomness:
            if k not in _RANDOMNESS_KEYS:
                raise ConfigError(f'Unknown key randomness.{k}.{did_you_mean(k, _RANDOMNESS_KEYS)} '
                                  f'randomness keys: {", ".join(_RANDOMNESS_KEYS)}.')

        # distribution, device, seed
        dist_cfg = self.env_cfg.get('dist_cfg') or {}
        self.rank, self.world_size = init_dist(dist_cfg.get('backend'), int(dist_cfg.get('timeout', 1800)))
        self.device = self._pick_device(self.env_cfg.get('device', 'auto'))
        self.seed = self.randomness.get('seed')
        if self.seed is None:
            self.seed = broadcast_object(int(np.random.randint(2**31)))
        set_random_seed(int(self.seed), self.randomness.get('deterministic', False),
                        self.randomness.get('diff_rank_seed', False))
        self.precision = resolve_precision(self.env_cfg.get('precision', 'auto'), self.device.type)

        # work directories: <work_dir>/<timestamp>/ holds this run's config, log and checkpoints
        self.experiment_name = experiment_name or Path(getattr(self.cfg, 'filename', 'run')).stem
        self.work_dir = Path(work_dir or Path('work_dirs') / self.experiment_name).resolve()
        self.timestamp = broadcast_object(time.strftime('%Y%m%d_%H%M%S'))
        self.run_dir = self.work_dir / self.timestamp
        self.logger = self._make_logger(log_level)
        self._log_file: logging.Handler | None = None  # this run's log file (main process, once created)

        # state
        self.epoch = 0
        self.iter = 0
        self.in_epoch_end = False
        self.in_iter_end = False
        self.stop_requested = False
        self.log_buffer: dict[str, Any] = {}
        self.last_metrics: dict[str, dict] = {}
        self.optim_wrapper = None
        self.param_schedulers: list = []
        self.train_loop = self.val_loop = self.test_loop = None
        self.train_dataloader = None
        self.epoch_length = 0

        self.model = self._build_model(model)
        self.num_params = sum(p.numel() for p in self.model.parameters())
        self.precision_note = self._small_model_precision()
        self.threads = self._set_threads()
        self.hooks: list[Hook] = []
        self._register_hooks(default_hooks, custom_hooks)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_cfg(cls, cfg: Config) -> 'Runner':
        cfg.check_keys()
        cfg.resolve_legacy_keys()
        c = copy.deepcopy(cfg)
        return cls(model=cfg.model_cfg(), work_dir=c.get('work_dir'), train_dataloader=c.get('train_dataloader'),
                   val_dataloader=c.get('val_dataloader'), test_dataloader=c.get('test_dataloader'),
                   train_cfg=c.get('train_cfg'), val_cfg=c.get('val_cfg'), test_cfg=c.get('test_cfg'),
                   auto_scale_lr=c.get('auto_scale_lr'), optim_wrapper=c.get('optim_wrapper'),
                   param_scheduler=c.get('param_scheduler'), val_evaluator=c.get('val_evaluator'),
                   test_evaluator=c.get('test_evaluator'), default_hooks=c.get('default_hooks'),
                   custom_hooks=c.get('custom_hooks'), load_from=c.get('load_from'),
                   load_from_ema=c.get('load_from_ema'),                   resume=c.get('resume', False), launcher=c.get('launcher', 'none'), env_cfg=c.get('env_cfg'),
                   randomness=c.get('randomness'), log_level=c.get('log_level', 'INFO'),
                   experiment_name=c.get('experiment_name'), cfg=cfg)

    @staticmethod
    def _pick_device(device: str) -> torch.device:
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device == 'cuda':
            return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
        return torch.device(device)

    def _make_logger(self, level: str) -> logging.Logger:
        logger = logging.getLogger('fovea')
        logger.setLevel(level if is_main_process() else logging.WARNING)
        if not logger.handlers and not logging.getLogger().handlers:
            h = logging.StreamHandler(sys.stdout)
            h.setFormatter(logging.Formatter('%(message)s'))
            logger.addHandler(h)
        return logger

    def _build_model(self, model_cfg: dict | nn.Module) -> nn.Module:
        if isinstance(model_cfg, nn.Module):
            model = model_cfg
        else:
            with key_scope('model'):
                model = MODELS.build(dict(model_cfg))
            if hasattr(model, 'init_weights'):
                model.init_weights()
        from fovea.engine.distributed import fit_sync_batchnorm
        model = fit_sync_batchnorm(model, self.world_size, self.device.type)
        model.to(self.device)
        cl = self.env_cfg.get('channels_last', 'auto')
        backbone = getattr(model, 'backbone', None)
        if cl == 'auto':
            cl = bool(getattr(backbone, 'prefers_channels_last', False))
        self.channels_last = bool(cl)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
            if hasattr(model, 'data_preprocessor'):
                model.data_preprocessor.channels_last = True
        self.compile_cfg = self.env_cfg.get('compile', False)
        return model

    def _small_model_precision(self) -> str:
        """'auto' precision keeps a small model in fp32 (see :func:`model_precision`); returns the note."""
        self.precision, note = model_precision(self.env_cfg.get('precision', 'auto'), self.device.type,
                                               self.num_params)
        return note

    def _set_threads(self):
        from fovea.utils.threads import plan_threads
        loaders = (self._train_loader_cfg, self._val_loader_cfg, self._test_loader_cfg)
        self.num_workers = max(int((c or {}).get('num_workers', 0)) for c in loaders)
        plan = plan_threads(self.num_params, self.num_workers, self.device.type,
                            self.env_cfg.get('num_threads', 'auto'), self.env_cfg.get('worker_threads', 'auto'),
                            int(os.environ.get('LOCAL_WORLD_SIZE', 1)))
        torch.set_num_threads(plan.main)
        return plan

    @property
    def unwrapped_model(self) -> nn.Module:
        return self.model.module if isinstance(self.model, nn.parallel.DistributedDataParallel) else self.model

    @property
    def dataset_meta(self) -> dict | None:
        for loader in (self.train_dataloader, getattr(self.val_loop, 'dataloader', None),
                       getattr(self.test_loop, 'dataloader', None)):
            if loader is not None and hasattr(loader.dataset, 'metainfo'):
                return loader.dataset.metainfo
        return None

    def _register_hooks(self, default_hooks: dict | None, custom_hooks: list | None) -> None:
        merged = dict(DEFAULT_HOOKS)
        for name, cfg in (default_hooks or {}).items():
            if cfg is None:
                merged.pop(name, None)
            else:
                merged[name] = {**merged.get(name, {}), **cfg} if cfg.get('type') in (None, merged.get(
                    name, {}).get('type')) else dict(cfg)
        with key_scope('default_hooks'):
            for name, cfg in merged.items():
                self.register_hook(build(cfg, HOOKS, key=name))
        with key_scope('custom_hooks'):
            for i, cfg in enumerate(custom_hooks or []):
                cfg = dict(cfg)
                priority = cfg.pop('priority', None)
                hook = build(cfg, HOOKS, key=str(i))
                if priority is not None:
                    hook.priority = priority
                self.register_hook(hook)

    def register_hook(self, hook: Hook) -> None:
        self.hooks.append(hook)
        prio = lambda h: PRIORITIES[h.priority] if isinstance(h.priority, str) else int(h.priority)  # noqa: E731
        self.hooks.sort(key=prio)

    def call_hook(self, name: str, **kwargs: Any) -> None:
        for h in self.hooks:
            getattr(h, name)(self, **kwargs)

    def autocast(self):
        return autocast(self.precision, self.device.type)

    @property
    def max_epochs(self) -> int:
        return self.train_loop.max_epochs if self.train_loop else 0

    @property
    def max_iters(self) -> int:
        return self.train_loop.max_iters if self.train_loop else 0

    @property
    def global_batch_size(self) -> int:
        bs = getattr(self.train_dataloader, 'batch_size', None) or 1
        return bs * self.world_size

    # ------------------------------------------------------------------ building the parts
    def _build_loader(self, cfg: dict | None, key: str):
        if cfg is None:
            raise ConfigError(f'The config has no {key}; it is needed for this command.')
        from fovea.data.datasets.base import check_labels_fit
        from fovea.engine.worker_guard import guard_workers, worker_start_method
        cfg = dict(cfg)
        method = worker_start_method(self.env_cfg.get('mp_cfg'))
        if method and int(cfg.get('num_workers') or 0) > 0:
            cfg.setdefault('multiprocessing_context', method)
        loader = build_dataloader(cfg, seed=int(self.seed), key=key, worker_threads=self.threads.worker)
        check_labels_fit(loader.dataset, getattr(getattr(self.unwrapped_model, 'head', None), 'num_classes', None),
                         f'{key}.dataset')
        return guard_workers(loader)

    def _build_eval_loop(self, phase: str):
        loader_cfg = self._val_loader_cfg if phase == 'val' else self._test_loader_cfg
        evaluator = self._val_evaluator_cfg if phase == 'val' else self._test_evaluator_cfg
        loop_cfg = dict((self._val_cfg if phase == 'val' else self._test_cfg) or {})
        if loader_cfg is None or evaluator is None:
            if phase == 'test':
                raise ConfigError('Testing needs test_dataloader and test_evaluator in the config.')
            return None
        loader = self._build_loader(loader_cfg, f'{phase}_dataloader')
        loop_cfg.setdefault('type', 'ValLoop' if phase == 'val' else 'TestLoop')
        with key_scope(f'{phase}_cfg'):
            return build(loop_cfg, LOOPS, runner=self, dataloader=loader, evaluator=evaluator)

    def _scaled_optim_cfg(self) -> dict:
        cfg = copy.deepcopy(dict(self._optim_cfg))
        asl = self.auto_scale_lr or {}
        if asl.get('enable', False):
            if 'base_batch_size' not in asl:
                raise ConfigError('auto_scale_lr needs base_batch_size, e.g. dict(base_batch_size=256, enable=True)')
            real = self.global_batch_size * int(cfg.get('accumulative_counts', 1))
            ratio = real / asl['base_batch_size']
            old = cfg['optimizer']['lr']
            cfg['optimizer']['lr'] = old * ratio
            self.logger.info(f'auto_scale_lr: total batch {real} (= {self.world_size} ranks x '
                             f'{self.global_batch_size // self.world_size} x {cfg.get("accumulative_counts", 1)} '
                             f'accumulation) / base {asl["base_batch_size"]} -> lr {old:g} x {ratio:g} = '
                             f'{cfg["optimizer"]["lr"]:g}')
        return cfg

    def _wrap_for_training(self) -> None:
        gc = self.env_cfg.get('grad_checkpointing', False)
        if gc:
            from fovea.engine.distributed import enable_gradient_checkpointing
            n = enable_gradient_checkpointing(self.unwrapped_model, gc.get('modules') if isinstance(gc, dict) else None)
            self.logger.info(f'gradient checkpointing: activations of {n} blocks are recomputed in backward')
        if self.world_size > 1 and not isinstance(self.model, nn.parallel.DistributedDataParallel) and not getattr(
                self.model, '_fovea_fsdp', False):
            if self.env_cfg.get('sync_bn', False) or (self.cfg.get('model_wrapper_cfg') or {}).get('sync_bn'):
                from fovea.engine.distributed import convert_sync_batchnorm  # torch's on CUDA, all-reduce BN on CPU
                self.model = convert_sync_batchnorm(self.model, self.device.type)
            ids = [self.device.index] if self.device.type == 'cuda' else None
            unused = self.env_cfg.get('find_unused_parameters', self.cfg.get('find_unused_parameters', False))
            self.model = _DDP(self.model, device_ids=ids, find_unused_parameters=unused)  # top level: MMEngine's key
        if self.compile_cfg:
            opts = self.compile_cfg if isinstance(self.compile_cfg, dict) else {}
            m = self.unwrapped_model
            m.forward = torch.compile(m.forward, **opts)
            from fovea.engine.speed import CompileTimeHook
            self.register_hook(CompileTimeHook())

    def _describe_setup(self) -> None:
        self.logger.info(
            f'fovea {fovea.__version__} | torch {torch.__version__} | device {self.device} x {self.world_size} '
            f'process(es) | precision {self.precision}{self.precision_note}'
            f'{" (autocast)" if self.precision != "fp32" else ""} | channels_last {"on" if self.channels_last else "off"}'
            f' | compile {"on" if self.compile_cfg else "off"} | seed {self.seed}')
        self.logger.info(self.threads.describe(self.num_workers))
        self.logger.info(f'run directory: {self.run_dir}')

    # ------------------------------------------------------------------ train / val / test
    @_logs_fatal_errors
    def train(self) -> nn.Module:
        if self._train_loader_cfg is None or self._train_cfg is None or self._optim_cfg is None:
            raise ConfigError('Training needs train_dataloader, train_cfg and optim_wrapper in the config.')
        self._refuse_finished_resume()
        # a SIGTERM/SIGINT during set-up is honoured too: the loop then runs no iteration and a checkpoint is saved
        from fovea.data.loader import release_workers
        with self._stop_on_signals():
            self._setup_training()
            self.call_hook('before_run')
            from fovea.engine.worker_guard import worker_deaths_explained
            try:
                with fail_together(), worker_deaths_explained(self.train_dataloader,
                                                              getattr(self.val_loop, 'dataloader', None)):
                    self.train_loop.run()
            finally:
                release_workers(self.train_dataloader, getattr(self.val_loop, 'dataloader', None))
        if self.stop_requested:
            path = self.save_checkpoint(self.run_dir / f'interrupted_iter_{self.iter}.pth')
            self.call_hook('after_run')
            raise TrainingInterrupted(f'Training stopped by a signal at epoch {self.epoch + 1}, iteration '
                                      f'{self.iter}; saved {path}. Continue with `--resume auto` (or resume={str(path)!r}).')
        self.call_hook('after_run')
        return self.unwrapped_model

    def _setup_training(self) -> None:
        self._prepare_run_dir()
        self.train_dataloader = self._build_loader(self._train_loader_cfg, 'train_dataloader')
        self.epoch_length = len(self.train_dataloader)
        train_cfg = _train_loop_cfg(self._train_cfg)
        with key_scope('train_cfg'):
            self.train_loop = build(train_cfg, LOOPS, runner=self, dataloader=self.train_dataloader)
        self.val_loop = self._build_eval_loop('val')
        if self.env_cfg.get('fsdp') and self.world_size > 1:  # shard before the optimizer sees the parameters
            from fovea.engine.distributed import apply_fsdp
            apply_fsdp(self.unwrapped_model, self.env_cfg['fsdp'])
        self.optim_wrapper = build_optim_wrapper(self.unwrapped_model, self._scaled_optim_cfg(), self.precision,
                                                 self.device.type)
        self.optim_wrapper.max_steps = self.train_loop.max_iters // self.optim_wrapper.accumulative_counts
        self.param_schedulers = build_param_schedulers(self._sched_cfg, self.optim_wrapper.optimizer,
                                                       self.epoch_length, max_epochs=self.train_loop.max_epochs,
                                                       max_iters=self.train_loop.max_iters)
        self._load_or_resume()
        self._wrap_for_training()
        self._describe_setup()

    def _refuse_finished_resume(self) -> None:
        """``resume`` of a run that already reached max_epochs/max_iters: say so before anything is created."""
        if not self.resume_from:
            return
        if self.resume_from in (True, 'auto'):
            path = next(iter(checkpoint_candidates(self.work_dir)), None)
        else:
            path = Path(self.resume_from)
        meta = read_meta(path) if path is not None else None
        if not meta:
            return
        loop = _train_loop_cfg(self._train_cfg)
        by_epoch = loop['type'] != 'IterBasedTrainLoop'
        unit, done, goal = ('epoch', meta.get('epoch'), loop.get('max_epochs')) if by_epoch else (
            'iteration', meta.get('iter'), loop.get('max_iters'))
        if isinstance(done, int) and isinstance(goal, int) and done >= goal:
            raise ConfigError(f'The run already finished at {unit} {done} (checkpoint {path}); nothing to resume. '
                              f'Raise train_cfg.max_{unit}s above {done} to continue training it.')

    @_logs_fatal_errors
    def val(self) -> dict:
        self.val_loop = self.val_loop or self._build_eval_loop('val')
        if self.val_loop is None:
            raise ConfigError('Validation needs val_dataloader and val_evaluator in the config.')
        fresh = not getattr(self, '_run_dir_created', False)  # not after train()/test(): set the run up as test()
        if fresh:
            self._prepare_run_dir()
        self._load_or_resume(weights_only=True)
        if fresh:
            self._describe_setup()
            self.call_hook('before_run')
        from fovea.engine.worker_guard import worker_deaths_explained
        from fovea.data.loader import release_workers
        try:
            with worker_deaths_explained(self.val_loop.dataloader):
                metrics = self.val_loop.run()
        finally:
            release_workers(self.val_loop.dataloader)
        if fresh:
            self.call_hook('after_run')
        return metrics

    @_logs_fatal_errors
    def test(self) -> dict:
        self._prepare_run_dir()
        self.test_loop = self._build_eval_loop('test')
        self._load_or_resume(weights_only=True)
        self._describe_setup()
        self.call_hook('before_run')
        from fovea.engine.worker_guard import worker_deaths_explained
        from fovea.data.loader import release_workers
        try:
            with worker_deaths_explained(self.test_loop.dataloader):
                metrics = self.test_loop.run()
        finally:
            release_workers(self.test_loop.dataloader)
        self.call_hook('after_run')
        return metrics

    def _prepare_run_dir(self) -> None:
        if getattr(self, '_run_dir_created', False):
            return
        if is_main_process():  # a folder of its own, even when another run started in the same second
            from fovea.utils.io import create_exclusive_dir
            self.run_dir = create_exclusive_dir(self.work_dir, self.timestamp)
        self.run_dir = Path(broadcast_object(str(self.run_dir)))
        self.timestamp, self._run_dir_created = self.run_dir.name, True
        if is_main_process():
            from fovea.utils.io import explain_os_error
            try:
                fh = logging.FileHandler(self.run_dir / f'{self.timestamp}.log', encoding='utf-8')
            except OSError as exc:
                raise explain_os_error(exc, self.run_dir) from exc
            if isinstance(self.cfg, ConfigDict) and len(self.cfg):
                (Config(self.cfg) if not isinstance(self.cfg, Config) else self.cfg).dump(
                    self.run_dir / f'{self.experiment_name}.py')
            fh.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
            self.logger.addHandler(fh)
            self._log_file = fh
        barrier()

    # ------------------------------------------------------------------ signals and faults
    def _stop_on_signals(self):
        """SIGINT/SIGTERM ask the loop to stop after the current iteration (a second SIGINT aborts)."""
        import contextlib

        @contextlib.contextmanager
        def ctx():
            import threading
            if threading.current_thread() is not threading.main_thread():
                yield
                return

            def handler(signum, frame):
                if self.stop_requested and signum == signal.SIGINT:
                    raise KeyboardInterrupt
                self.stop_requested = True
                self.logger.warning(f'Received {signal.Signals(signum).name}: stopping after this iteration and '
                                    f'saving a checkpoint (press Ctrl-C again to abort without saving).')
            old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
        return ctx()

    def on_nonfinite_loss(self, bad: dict[str, float], n_iters: int) -> None:
        lr = self.optim_wrapper.param_groups[0]['lr'] if self.optim_wrapper else float('nan')
        ow = self.optim_wrapper
        if getattr(ow, 'skip_nonfinite', False):
            steps = max(n_iters // max(ow.accumulative_counts, 1), 1)
            if ow.consecutive_skips < steps:  # some step of this interval went through: keep training
                self.logger.warning(
                    f'Non-finite loss in the {n_iters} iterations up to iteration {self.iter + 1} (epoch '
                    f'{self.epoch + 1}): {", ".join(f"{k}={v}" for k, v in bad.items())}; lr={lr:.4e}. '
                    f'optim_wrapper.skip_nonfinite=True: skipped those updates ({ow.skipped_steps} skipped so far).')
                return
        raise NonFiniteLossError(
            f'Non-finite loss at iteration {self.iter + 1} (epoch {self.epoch + 1}), averaged over the last '
            f'{n_iters} iterations: {", ".join(f"{k}={v}" for k, v in bad.items())}; lr={lr:.4e}. No checkpoint was '
            f'written with these weights. Lower the learning rate, enable gradient clipping '
            f'(optim_wrapper.clip_grad=dict(max_norm=1.0)) or use precision fp32.')

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | Path, save_optimizer: bool = True, update_last: bool = True) -> Path:
        """Save model, optimizer, schedulers, loop position, RNG states and config to ``path`` (atomically)."""
        path = Path(path)
        epoch = self.epoch + 1 if self.in_epoch_end else self.epoch
        # saved from after_train_iter (iteration checkpoints): that iteration is done, resume after it
        done_iters = self.iter + 1 if self.in_iter_end else self.iter
        meta = {'epoch': epoch, 'iter': done_iters, 'seed': int(self.seed), 'fovea_version': fovea.__version__,
                'torch_version': str(torch.__version__), 'timestamp': self.timestamp,
                'config': self.cfg.pretty_text() if isinstance(self.cfg, Config) else '',
                'dataset_meta': _plain(self.dataset_meta or {})}
        fsdp_state = None
        if getattr(self.unwrapped_model, '_fovea_fsdp', False):  # full weights in the file, optimizer shards beside it
            from fovea.engine.distributed import fsdp_checkpoint_state
            fsdp_state = fsdp_checkpoint_state(self.unwrapped_model, self.optim_wrapper if save_optimizer else None,
                                               path)
        ckpt: dict[str, Any] = {'meta': meta, 'state_dict': _cpu(
            fsdp_state[0] if fsdp_state else self.unwrapped_model.state_dict())}
        bad = [k for k, v in ckpt['state_dict'].items()
               if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise NonFiniteLossError(
                f'Not saving {path}: the model weights contain NaN or Inf ({len(bad)} tensors, e.g. '
                f'{", ".join(bad[:3])}) at iteration {self.iter} (epoch {self.epoch + 1}); the previous checkpoints '
                f'are kept. Training diverged: lower the learning rate, enable gradient clipping or use fp32.')
        if save_optimizer and self.optim_wrapper is not None:
            ckpt['optimizer'] = fsdp_state[1] if fsdp_state else self.optim_wrapper.state_dict()
            ckpt['param_schedulers'] = [s.state_dict() for s in self.param_schedulers]
        ckpt['rng'] = get_rng_state()
        self.call_hook('before_save_checkpoint', checkpoint=ckpt)
        if is_main_process():
            save_checkpoint(ckpt, path)
            if update_last:
                save_pointer = self.work_dir / LAST_CHECKPOINT
                from fovea.utils.io import atomic_write_text
                atomic_write_text(save_pointer, str(path))
        barrier()
        return path

    def _load_or_resume(self, weights_only: bool = False) -> None:
        resume = self.resume_from
        if not weights_only and resume:
            if resume not in (True, 'auto'):
                self.resume(Path(resume))
                return
            candidates = checkpoint_candidates(self.work_dir)
            if not candidates:
                self._remove_stale_temp_files()
                self.logger.info(f'resume=auto: no checkpoint under {self.work_dir}; starting from scratch.')
            failures = []
            for path in candidates:
                try:
                    self.resume(path)
                    return
                except CheckpointError as exc:  # damaged or foreign file: fall back to the next newest
                    failures.append(f'{path}: {exc}')
                    self.logger.warning(f'resume=auto: cannot resume from {path} ({exc}); trying an older '
                                        f'checkpoint.')
            if failures:
                raise CheckpointError(f'resume=auto: none of the {len(failures)} checkpoints under {self.work_dir} '
                                      f'could be resumed from:\n' + '\n'.join(failures))
        if self.load_from:
            ckpt = read_weights(self.load_from)
            try:
                # evaluating needs every tensor; fine-tuning (train) keeps what fits and reports the rest
                report = load_weights(self.unwrapped_model, ckpt, ema=self.load_from_ema, require_all=weights_only)
            except CheckpointError as exc:
                raise CheckpointError(f'load_from {self.load_from}: {exc}') from None
            info = checkpoint_info(ckpt)
            which = {True: ' (its EMA weights)', False: ' (its trained, not averaged, weights)'}.get(
                self.load_from_ema, '')
            self.logger.info(f'load_from {self.load_from}{which}, a {info.layout} checkpoint'
                             f'{f" after epoch {info.epoch}" if info.epoch else ""}: {report}')

    def _remove_stale_temp_files(self, *extra: Path) -> None:
        """Delete what killed runs left half-written in the work dir and its run dirs."""
        from fovea.utils.io import remove_stale_temp_files
        if not is_main_process():
            return
        run_dirs = [d for d in self.work_dir.iterdir() if d.is_dir()] if self.work_dir.is_dir() else []
        for folder in {*extra, self.work_dir, *run_dirs}:
            for tmp in remove_stale_temp_files(folder):
                self.logger.info(f'Removed {tmp}, a partly written file left by a process that was killed.')

    def resume(self, path: str | Path) -> None:
        """Restore model, optimizer, schedulers, loop position, RNG and hook state from ``path``."""
        self._remove_stale_temp_files(Path(path).parent)
        ckpt = read_weights(path)
        source = 'fovea'  # fovea's own checkpoints load as they are
        if checkpoint_info(ckpt).layout == 'mmengine':
            ckpt, source = self._from_mmengine(ckpt, path), None
        for key in ('state_dict', 'meta'):
            if key not in ckpt:
                raise CheckpointError(f'{path} is not a fovea training checkpoint (no {key!r}); use load_from '
                                      f'to start from its weights instead of resume.')
        fsdp = getattr(self.unwrapped_model, '_fovea_fsdp', False)
        if fsdp:
            from fovea.engine.distributed import fsdp_restore
            fsdp_restore(self.unwrapped_model, self.optim_wrapper, ckpt, path)
        else:
            load_weights(self.unwrapped_model, ckpt['state_dict'], strict=True, log=False, source=source)
        if 'optimizer' in ckpt and self.optim_wrapper is not None:
            if not fsdp:
                self.optim_wrapper.load_state_dict(ckpt['optimizer'])
            for s, state in zip(self.param_schedulers, ckpt.get('param_schedulers', [])):
                s.load_state_dict(state)
        meta = ckpt['meta']
        self.epoch, self.iter = int(meta['epoch']), int(meta['iter'])
        if 'rng' in ckpt:
            set_rng_state(ckpt['rng'])
        self.resumed_from = Path(path)
        self.call_hook('after_load_checkpoint', checkpoint=ckpt)
        self.logger.info(f'Resumed from {path} at epoch {self.epoch}, iteration {self.iter}.')

    def _from_mmengine(self, ckpt: dict, path: str | Path) -> dict:
        """An MMPretrain training checkpoint in fovea's layout; logs what is not carried over."""
        from fovea.engine.checkpoint import from_mmengine
        ckpt, notes = from_mmengine(ckpt, self.optim_wrapper, self.param_schedulers)
        if 'ema_state_dict' in ckpt and not any(type(h).__name__ == 'EMAHook' for h in self.hooks):
            notes.append('the EMA state (this config has no EMAHook): training continues from the averaged '
                         'weights MMPretrain saved as state_dict')
        self.logger.warning(f'Resuming the MMPretrain run {path}: weights, epoch and iteration'
                            f'{", optimizer state" if "optimizer" in ckpt else ""} carried over; not carried over: '
                            + '; '.join(notes) + '.')
        return ckpt


def _check_launcher(launcher: str | None) -> None:
    """MMEngine's ``launcher``: fovea always reads the process group from torchrun's environment (RANK,
    WORLD_SIZE, ...), so 'none'/'pytorch' need nothing; other launchers are not used, which is said."""
    if launcher in (None, 'none', 'pytorch'):
        return
    if launcher not in ('slurm', 'mpi'):
        raise ConfigError(f"launcher={launcher!r} is not one of MMEngine's 'none', 'pytorch', 'slurm', 'mpi'.")
    started = 'RANK' in os.environ and 'WORLD_SIZE' in os.environ
    logging.getLogger('fovea').warning(
        f"launcher={launcher!r}: fovea does not start processes through {launcher}; it reads the process group from "
        f"torchrun's environment variables" + (' (found here, so they are used).' if started else
                                               ' (none found: this is one process). Start the ranks with '
                                               '`srun torchrun ... -m fovea train ...` (docs/training.md).'))


def _train_loop_cfg(train_cfg: dict) -> dict:
    """``train_cfg`` with its loop ``type`` decided (MMEngine: ``by_epoch=False`` or ``max_iters`` -> iterations)."""
    cfg = dict(train_cfg)
    by_epoch = cfg.pop('by_epoch', None)
    if 'type' not in cfg:
        cfg['type'] = 'IterBasedTrainLoop' if by_epoch is False or 'max_iters' in cfg else 'EpochBasedTrainLoop'
    return cfg


def _cpu(sd: dict) -> dict:
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in sd.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)

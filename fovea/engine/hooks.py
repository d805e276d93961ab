"""Hooks: code that runs at fixed points of the loops (MMEngine's hook points and names).

``default_hooks`` (timer, logger, param_scheduler, checkpoint, sampler_seed,
visualization) are built by name from the config; ``custom_hooks`` (EMAHook, ...)
are appended. Hooks run in priority order (lower first).
"""
from __future__ import annotations

import logging
import math
import re
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from fovea.registry import HOOKS
from fovea.utils.dist import is_main_process
from fovea.utils.errors import ConfigError

__all__ = ['Hook', 'IterTimerHook', 'LoggerHook', 'ParamSchedulerHook', 'CheckpointHook', 'DistSamplerSeedHook',
           'VisualizationHook', 'PRIORITIES']

logger = logging.getLogger('fovea')

PRIORITIES = {'HIGHEST': 0, 'VERY_HIGH': 10, 'HIGH': 30, 'ABOVE_NORMAL': 40, 'NORMAL': 50, 'BELOW_NORMAL': 60,
              'LOW': 70, 'VERY_LOW': 90, 'LOWEST': 100}


class Hook:
    """Base hook: every method is a no-op. ``priority`` orders hooks (lower runs first)."""
    priority: int | str = 'NORMAL'

    def before_run(self, runner) -> None: ...
    def after_run(self, runner) -> None: ...
    def before_train(self, runner) -> None: ...
    def after_train(self, runner) -> None: ...
    def before_train_epoch(self, runner) -> None: ...
    def after_train_epoch(self, runner) -> None: ...
    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: dict | None = None) -> None: ...
    def before_val(self, runner) -> None: ...
    def before_val_epoch(self, runner) -> None: ...
    def before_val_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None: ...
    def after_val_epoch(self, runner, metrics: dict | None = None) -> None: ...
    def after_val(self, runner) -> None: ...
    def before_test(self, runner) -> None: ...
    def before_test_epoch(self, runner) -> None: ...
    def before_test_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None: ...
    def after_test_epoch(self, runner, metrics: dict | None = None) -> None: ...
    def after_test(self, runner) -> None: ...
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None: ...
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None: ...

    def every_n_train_iters(self, runner, n: int) -> bool:
        return n > 0 and (runner.iter + 1) % n == 0

    def every_n_epochs(self, runner, n: int) -> bool:
        return n > 0 and (runner.epoch + 1) % n == 0

    def end_of_epoch(self, runner, batch_idx: int) -> bool:
        return batch_idx + 1 == runner.epoch_length

    def is_last_train_iter(self, runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    def is_last_train_epoch(self, runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Measures data time (waiting for the loader) and step time separately."""
    priority = 'NORMAL'

    def _start(self, runner) -> None:
        self._t = time.perf_counter()

    before_train_epoch = before_val_epoch = before_test_epoch = lambda self, runner: self._start(runner)

    def _before_iter(self, runner, batch_idx, data_batch=None):
        now = time.perf_counter()
        runner.log_buffer['data_time'] = now - self._t
        self._t_iter = now

    before_train_iter = before_val_iter = before_test_iter = _before_iter

    def _after_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        now = time.perf_counter()
        runner.log_buffer['time'] = now - self._t
        runner.log_buffer['step_time'] = now - self._t_iter
        self._t = now

    after_train_iter = after_val_iter = after_test_iter = _after_iter


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Gives the sampler the epoch number so each epoch (and each rank) gets its own order."""

    def before_train_epoch(self, runner):
        sampler = getattr(runner.train_dataloader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Steps iteration-based schedulers after each iteration and epoch-based ones after each epoch."""
    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for s in runner.param_schedulers:
            if not s.by_epoch:
                s.step()

    def after_train_epoch(self, runner):
        for s in runner.param_schedulers:
            if s.by_epoch:
                s.step()


@HOOKS.register_module()
class LoggerHook(Hook):
    """Logs training progress every ``interval`` iterations and every validation result.

    Writes a progress line (epoch/iter, ETA, lr, losses, data/step time, images/s), a JSON line per
    logged step to ``<run dir>/scalars.json`` and, when tensorboard is installed, event files to
    ``<run dir>/tensorboard``. Loss values are read from the device only at logging intervals.
    """
    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 10, ignore_last: bool = True, interval_exp_name: int = 1000,
                 log_metric_by_epoch: bool = True, tensorboard: bool | None = None):
        if interval < 1:
            raise ConfigError(f'default_hooks.logger.interval must be >= 1, got {interval}')
        self.interval = interval
        self.tensorboard = tensorboard
        self._writer = None
        self._sums: dict[str, torch.Tensor] = {}
        self._reports: dict[str, int] = {}  # iterations that reported each value (feature-cached
        self._count = 0                     # accumulation reports once per optimizer step)
        self._time = 0.
        self._data_time = 0.
        self._tty = sys.stdout.isatty()
        self._last_live = 0.
        self._live_dirty = False
        self._last_loss: float | None = None

    def before_run(self, runner):
        if not is_main_process() or runner.run_dir is None:
            return
        self.json_path = Path(runner.run_dir) / 'scalars.json'
        if self.tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._writer = SummaryWriter(str(Path(runner.run_dir) / 'tensorboard'))
            except ImportError:
                if self.tensorboard:
                    raise ConfigError('LoggerHook(tensorboard=True) needs tensorboard: pip install "fovea[tools]"')

    def after_run(self, runner):
        if self._writer is not None:
            self._writer.close()

    def _write(self, runner, record: dict, step: int) -> None:
        if not is_main_process() or runner.run_dir is None:
            return
        import json
        with open(self.json_path, 'a', encoding='utf-8') as f:
            f.write(json.dumps(record) + '\n')
        if self._writer is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ('epoch', 'iter', 'step'):
                    self._writer.add_scalar(k, v, step)

    def _live_line(self, runner, batch_idx: int) -> None:
        """On a terminal, a progress line rewritten in place (at most twice a second, no device sync)."""
        now = time.perf_counter()
        if now - self._last_live < 0.5 or not self._tty:
            return
        self._last_live = now
        it_time = self._time / max(self._count, 1)
        eta = _fmt_eta(int((runner.max_iters - runner.iter - 1) * it_time))
        where = (f'epoch {runner.epoch + 1}/{runner.max_epochs} [{batch_idx + 1}/{runner.epoch_length}]'
                 if runner.train_loop.by_epoch else f'iter {runner.iter + 1}/{runner.max_iters}')
        last = f'  loss {self._last_loss:.4f}' if self._last_loss is not None else ''
        sys.stdout.write(f'\r{where}  eta {eta}  {runner.global_batch_size / max(it_time, 1e-9):.0f} images/s'
                         f'{last}\033[K')
        sys.stdout.flush()
        self._live_dirty = True

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for k, v in (outputs or {}).items():
            self._sums[k] = self._sums[k] + v.detach() if k in self._sums else v.detach().clone()
            self._reports[k] = self._reports.get(k, 0) + 1
        self._count += 1
        self._time += runner.log_buffer.get('time', 0.)
        self._data_time += runner.log_buffer.get('data_time', 0.)
        last = self.end_of_epoch(runner, batch_idx) if runner.train_loop.by_epoch else self.is_last_train_iter(runner)
        if not (self.every_n_train_iters(runner, self.interval) or last):
            self._live_line(runner, batch_idx)
            return
        if self._live_dirty:
            sys.stdout.write('\r\033[K')
            self._live_dirty = False
        values = {k: v.item() / self._reports[k] for k, v in self._sums.items()}  # one host sync per interval
        self._last_loss = values.get('loss')
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        n, it_time, data_time = self._count, self._time / self._count, self._data_time / self._count
        self._sums, self._reports, self._count, self._time, self._data_time = {}, {}, 0, 0., 0.
        lr = runner.optim_wrapper.param_groups[0]['lr']
        imgs = runner.global_batch_size / it_time if it_time > 0 else float('nan')
        remaining = runner.max_iters - runner.iter - 1
        eta = int(remaining * it_time)
        record = {'lr': lr, **values, 'data_time': data_time, 'time': it_time, 'images_per_s': imgs,
                  'epoch': runner.epoch + 1, 'iter': runner.iter + 1, 'step': runner.iter + 1}
        self._write(runner, record, runner.iter + 1)
        if runner.train_loop.by_epoch:
            where = f'Epoch(train) [{runner.epoch + 1}][{batch_idx + 1:>{len(str(runner.epoch_length))}}/' \
                    f'{runner.epoch_length}]'
        else:
            where = f'Iter(train) [{runner.iter + 1:>{len(str(runner.max_iters))}}/{runner.max_iters}]'
        losses = '  '.join(f'{k}: {v:.4f}' for k, v in values.items())
        runner.logger.info(f'{where}  lr: {lr:.4e}  eta: {_fmt_eta(eta)}  time: {it_time:.4f}  '
                           f'data_time: {data_time:.4f}  images/s: {imgs:.0f}  {losses}')
        if bad:
            runner.on_nonfinite_loss(bad, n)

    def after_val_epoch(self, runner, metrics=None):
        self._log_eval(runner, metrics, 'val')

    def after_test_epoch(self, runner, metrics=None):
        self._log_eval(runner, metrics, 'test')

    def _log_eval(self, runner, metrics: dict | None, phase: str) -> None:
        if not metrics:
            return
        text = '  '.join(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}' for k, v in metrics.items()
                         if not isinstance(v, (list, dict)))
        if runner.train_loop is None:
            head = f'{phase.capitalize()}:'
        elif runner.train_loop.by_epoch:
            head = f'Epoch({phase}) [{runner.epoch}]'
        else:
            head = f'Iter({phase}) [{runner.iter}]'
        runner.logger.info(f'{head}  {text}')
        scalars = {f'{phase}/{k}' if phase == 'test' else k: v for k, v in metrics.items()
                   if isinstance(v, (int, float))}
        self._write(runner, {**scalars, 'epoch': runner.epoch, 'iter': runner.iter, 'step': runner.epoch
                             if runner.train_loop is not None and runner.train_loop.by_epoch else runner.iter},
                    runner.iter)


def _fmt_eta(seconds: int) -> str:
    h, rem = divmod(max(seconds, 0), 3600)
    m, s = divmod(rem, 60)
    return f'{h}:{m:02d}:{s:02d}'


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Saves checkpoints (MMEngine's CheckpointHook arguments).

    Args:
        interval: save every this many epochs (or iterations when ``by_epoch=False``); -1 never.
        by_epoch: count ``interval`` in epochs.
        max_keep_ckpts: keep only the newest N periodic checkpoints (-1 keeps all).
        save_last: always save at the end of training.
        save_best: metric name (e.g. 'accuracy/top1') or 'auto' (the first metric) to keep the best
            checkpoint as ``best_<metric>_epoch_N.pth``.
        rule: 'greater' or 'less' for ``save_best`` (default from the metric's name).
        out_dir: where to save (default: the run directory).
    """
    priority = 'VERY_LOW'

    def __init__(self, interval: int = 1, by_epoch: bool = True, max_keep_ckpts: int = -1, save_last: bool = True,
                 save_best: str | list[str] | None = None, rule: str | None = None, out_dir: str | None = None,
                 save_optimizer: bool = True, save_param_scheduler: bool = True, **kwargs: Any):
        ignored = ('published_keys', 'file_client_args', 'backend_args', 'filename_tmpl', 'greater_keys',
                   'less_keys', 'save_begin')
        unknown = sorted(set(kwargs) - set(ignored))
        if unknown:
            from fovea.registry import current_key_path
            from fovea.utils.errors import did_you_mean
            accepted = ['interval', 'by_epoch', 'max_keep_ckpts', 'save_last', 'save_best', 'rule', 'out_dir',
                        'save_optimizer', 'save_param_scheduler', *ignored]
            where = current_key_path() or 'CheckpointHook'
            raise ConfigError(f'Unknown argument {where}.{unknown[0]}={kwargs[unknown[0]]!r} for CheckpointHook.'
                              f'{did_you_mean(unknown[0], accepted)} Accepted arguments: {", ".join(accepted)}.')
        self.interval, self.by_epoch = interval, by_epoch
        self.max_keep_ckpts, self.save_last = max_keep_ckpts, save_last
        self.save_best = save_best[0] if isinstance(save_best, (list, tuple)) else save_best
        if rule not in (None, 'greater', 'less'):
            raise ConfigError(f"CheckpointHook rule must be 'greater' or 'less', got {rule!r}")
        self.rule = rule
        self.out_dir = out_dir
        self.save_optimizer = save_optimizer
        self._kept: list[tuple[Path, list | None]] = []  # (periodic checkpoint, its file identity)
        self.best_score: float | None = None
        self.best_path: str | None = None
        self._best_id: list | None = None

    def _dir(self, runner) -> Path:
        return Path(self.out_dir or runner.run_dir)

    def _periodic(self, runner, name: str) -> None:
        path = self._dir(runner) / name
        runner.save_checkpoint(path, save_optimizer=self.save_optimizer)
        self._kept.append((path, _file_identity(path)))
        if self.max_keep_ckpts > 0:
            while len(self._kept) > self.max_keep_ckpts:
                old, ident = self._kept.pop(0)
                if str(old) != self.best_path:
                    _remove_own_file(old, ident, runner)

    def after_train_epoch(self, runner):
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or (self.save_last and self.is_last_train_epoch(runner)):
            self._periodic(runner, f'epoch_{runner.epoch + 1}.pth')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval) or (self.save_last and self.is_last_train_iter(runner)):
            self._periodic(runner, f'iter_{runner.iter + 1}.pth')

    def after_val_epoch(self, runner, metrics=None):
        if not self.save_best or not metrics:
            return
        key = next(iter(metrics)) if self.save_best == 'auto' else self.save_best
        if key not in metrics:
            raise ConfigError(f'CheckpointHook save_best={key!r} is not among the metrics: {sorted(metrics)}')
        rule = self.rule or ('less' if any(w in key.lower() for w in ('loss', 'error', 'err')) else 'greater')
        score = float(metrics[key])
        better = self.best_score is None or (score > self.best_score if rule == 'greater' else score < self.best_score)
        if not better:
            return
        self.best_score = score
        step = f'epoch_{runner.epoch}' if runner.train_loop.by_epoch else f'iter_{runner.iter}'
        path = self._dir(runner) / f'best_{key.replace("/", "_")}_{step}.pth'
        runner.save_checkpoint(path, save_optimizer=False, update_last=False)
        if self.best_path and self.best_path != str(path):
            _remove_own_file(Path(self.best_path), self._best_id, runner)
        self.best_path, self._best_id = str(path), _file_identity(path)
        runner.logger.info(f'New best {key}: {score:.4f}; saved {path}')

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint.setdefault('meta', {})['best'] = {
            'score': self.best_score, 'path': self.best_path, 'identity': self._best_id,
            'kept': [[str(p), ident] for p, ident in self._kept]}

    def after_load_checkpoint(self, runner, checkpoint):
        best = checkpoint.get('meta', {}).get('best') or {}
        self.best_score, self.best_path = best.get('score'), best.get('path')
        # checkpoints of older fovea versions list bare paths: take the files as they are now
        self._best_id = best.get('identity') or (_file_identity(Path(self.best_path)) if self.best_path else None)
        self._kept = [(Path(p), _file_identity(Path(p))) if isinstance(p, str) else (Path(p[0]), p[1])
                      for p in best.get('kept', [])]
        self._restore_newer_best(runner, checkpoint.get('meta', {}))

    def _restore_newer_best(self, runner, meta: dict) -> None:
        """A periodic checkpoint is written before the validation of its own epoch (as in MMEngine), so its
        record of the best score can be one validation old: take the newest best checkpoint beside it (or
        beside the recorded best) that is not newer than the resumed step; its meta holds its score."""
        src = getattr(runner, 'resumed_from', None)
        if not self.save_best or src is None or runner.train_loop is None:
            return
        from fovea.engine.checkpoint import read_meta
        unit = 'epoch' if runner.train_loop.by_epoch else 'iter'
        done = meta.get(unit)
        prefix = 'best_' if self.save_best == 'auto' else f'best_{self.save_best.replace("/", "_")}_'
        pattern = re.compile(rf'{re.escape(prefix)}.*{unit}_(\d+)\.pth')

        def step(path) -> int:
            m = pattern.fullmatch(Path(path).name)
            return int(m.group(1)) if m else -1
        current = step(self.best_path) if self.best_path else -1
        folders = {Path(src).parent, *([Path(self.best_path).parent] if self.best_path else [])}
        newer = sorted((step(p), p) for f in folders for p in f.glob(f'{prefix}*.pth')
                       if isinstance(done, int) and current < step(p) <= done)
        score = ((read_meta(newer[-1][1]) or {}).get('best') or {}).get('score') if newer else None
        if score is not None:
            path = newer[-1][1]
            self.best_score, self.best_path, self._best_id = float(score), str(path), _file_identity(path)
            runner.logger.info(f'Best score so far: {self.best_score:.4f} ({path}, written after the resumed '
                               f'checkpoint)')


def _file_identity(path: Path) -> list[int] | None:
    """(inode, mtime, size) of a file as this run wrote it; a file another run wrote over differs."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def _remove_own_file(path: Path, identity: list | None, runner) -> None:
    """Delete a checkpoint this run wrote (keep-N, a superseded best), never one another run replaced."""
    if not is_main_process() or identity is None:
        return
    current = _file_identity(path)
    if current == list(identity):
        path.unlink()
    elif current is not None:
        runner.logger.warning(f'Kept {path}: another run has written it since this run saved it, so this '
                              f'run does not delete it.')


@HOOKS.register_module()
class VisualizationHook(Hook):
    """Accepted for MMPretrain configs. When ``enable=True`` it writes, during testing, up to
    ``max_images`` images with their predicted and true labels drawn on them to ``<run dir>/vis``."""

    def __init__(self, enable: bool = False, interval: int = 5000, max_images: int = 32, **kwargs: Any):
        self.enable = enable
        self.interval = interval
        self.max_images = max_images
        self._written = 0

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or self._written >= self.max_images or not is_main_process():
            return
        from PIL import Image, ImageDraw
        out = Path(runner.run_dir) / 'vis'
        out.mkdir(parents=True, exist_ok=True)
        classes = (runner.dataset_meta or {}).get('classes')
        inputs = data_batch['inputs']
        for img, sample in zip(inputs, outputs):
            if self._written >= self.max_images:
                break
            arr = img.permute(1, 2, 0).cpu().numpy()
            pil = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
            pil = pil.convert('RGB').resize((max(pil.width, 128), max(pil.height, 128)))
            pred = int(sample.pred_label)
            name = classes[pred] if classes else str(pred)
            text = f'pred: {name} ({float(sample.pred_score[pred]):.2f})'
            if 'gt_label' in sample:
                gt = int(sample.gt_label)
                text += f'\ngt: {classes[gt] if classes else gt}'
            ImageDraw.Draw(pil).text((2, 2), text, fill=(255, 0, 0))
            pil.save(out / f'{self._written:05d}.png')
            self._written += 1

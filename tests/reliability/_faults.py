"""Fault injection for the reliability tests and ``benchmarks/soak.py``.

``FaultHook`` is put into a training run through ``custom_hooks`` (by import path,
``_faults.FaultHook``, with this folder on ``PYTHONPATH``). It can stop the process at an
exact point and wait to be killed (``pause_*``: it writes a marker file first so the
parent knows where it is), send itself a signal, raise on one rank, or make the loss
NaN for one iteration. ``train_cmd``/``tiny_options`` build the command line of a small,
fast ``fovea train lenet5_digits`` run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from fovea.engine.hooks import Hook

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


class FaultHook(Hook):
    """Injects one kind of fault at a chosen point of training (see the module docstring).

    Args:
        marker_dir: folder for the ``paused_<where>`` marker files.
        pause_iter: before this (0-based, global) iteration, write a marker and sleep.
        pause_val_epoch: during the first validation batch after this many epochs, the same.
        pause_save: while writing (between the last write and fsync) a checkpoint whose name
            contains this text, the same: the temporary file is complete but not renamed.
        signal_iter / signal_name: before this iteration send ``signal_name`` to this process.
        raise_iter / raise_rank: raise RuntimeError before this iteration (on this rank only).
        nan_iter / nan_count: make the backbone's output NaN (so every loss term is NaN) in
            ``nan_count`` iterations from this one.
        pause_s: how long a pause lasts before the process goes on by itself.
        pause_rank: pause on this rank only (default: every rank).
        pause_once: pause only if the marker file does not exist yet (a restarted run goes on).
    """
    priority = 'HIGHEST'

    def __init__(self, marker_dir: str, pause_iter: int | None = None, pause_val_epoch: int | None = None,
                 pause_save: str | None = None, signal_iter: int | None = None, signal_name: str = 'SIGTERM',
                 raise_iter: int | None = None, raise_rank: int | None = None, nan_iter: int | None = None,
                 nan_count: int = 1, pause_s: float = 120.0, pause_rank: int | None = None,
                 pause_once: bool = False):
        self.marker_dir = Path(marker_dir)
        self.pause_iter, self.pause_val_epoch, self.pause_save = pause_iter, pause_val_epoch, pause_save
        self.signal_iter, self.signal_name = signal_iter, signal_name
        self.raise_iter, self.raise_rank = raise_iter, raise_rank
        self.nan_iter, self.nan_count = nan_iter, nan_count
        self.pause_s, self.pause_rank, self.pause_once = pause_s, pause_rank, pause_once
        self._nan_handle = None

    def _pause(self, where: str, runner=None) -> None:
        if self.pause_rank is not None and runner is not None and runner.rank != self.pause_rank:
            return
        marker = self.marker_dir / f'paused_{where}'
        if self.pause_once and marker.exists():
            return
        self.marker_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
        time.sleep(self.pause_s)

    def before_run(self, runner) -> None:
        if self.pause_save is None:
            return
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            name = os.path.basename(os.readlink(f'/proc/self/fd/{fd}'))
            if self.pause_save in name:
                self._pause('save')
            real_fsync(fd)
        os.fsync = fsync

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        it = runner.iter
        if it == self.pause_iter:
            self._pause(f'iter_{it}', runner)
        if it == self.signal_iter:
            for name in self.signal_name.split(','):  # 'SIGINT,SIGINT' is a double Ctrl-C
                os.kill(os.getpid(), getattr(signal, name))
        if it == self.raise_iter and self.raise_rank in (None, runner.rank):
            raise RuntimeError(f'injected failure on rank {runner.rank} at iteration {it}')
        if self.nan_iter is not None and self.nan_iter <= it < self.nan_iter + self.nan_count:
            def to_nan(module, inputs, output):
                return tuple(o * float('nan') for o in output) if isinstance(output, tuple) else output * float('nan')
            self._nan_handle = runner.unwrapped_model.backbone.register_forward_hook(to_nan)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._nan_handle is not None:
            self._nan_handle.remove()
            self._nan_handle = None

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        if batch_idx == 0 and runner.epoch == self.pause_val_epoch:
            self._pause(f'val_{runner.epoch}')


ITERS_PER_EPOCH = 4


def tiny_options(work_dir: str | Path, epochs: int = 3, extra: tuple = ()) -> list[str]:
    """``--cfg-options`` for a small lenet5_digits run: 4 iterations of 32 images per epoch, a
    checkpoint and a validation (64 images) after every epoch, no TensorBoard."""
    return [f'work_dir={work_dir}', f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            f'train_dataloader.dataset.indices={ITERS_PER_EPOCH * 32}', 'val_dataloader.dataset.indices=64',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=2',
            'default_hooks.logger.interval=2', 'default_hooks.logger.tensorboard=False',
            'param_scheduler.0.end=6', f'param_scheduler.1.end={max(epochs, 2)}', *extra]


def fault_hook_option(**kwargs) -> str:
    """A ``custom_hooks=[...]`` cfg-option holding one FaultHook."""
    return 'custom_hooks=' + repr([dict(type='_faults.FaultHook', **kwargs)]).replace(' ', '')


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), str(REPO), env.get('PYTHONPATH', '')])
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env['OMP_NUM_THREADS'] = str(torch.get_num_threads())  # the same thread count as this process (bitwise equality)
    env.update(extra)
    return env


def train_cmd(options: list[str], resume: bool = False, seed: int = 0) -> list[str]:
    cmd = [sys.executable, '-m', 'fovea', 'train', 'lenet5_digits', '--seed', str(seed)]
    if resume:
        cmd += ['--resume', 'auto']
    return cmd + ['--cfg-options', *options]


def start(cmd: list[str], cwd: str | Path, log: Path, env: dict | None = None) -> subprocess.Popen:
    f = open(log, 'ab')
    return subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env or subprocess_env())


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until ``path`` exists (the child reached the pause point)."""
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f'the training process exited ({proc.returncode}) before reaching {path.name}')
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f'timed out waiting for {path.name}')
        time.sleep(0.02)


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def final_state(work_dir: Path) -> dict[str, torch.Tensor]:
    """The model weights of the checkpoint ``last_checkpoint`` points to (weights-only load)."""
    target = Path((work_dir / 'last_checkpoint').read_text().strip())
    return torch.load(target, map_location='cpu', weights_only=True)['state_dict']


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f'{k} differs: max |diff| {(a[k].float() - b[k].float()).abs().max()}'


class CrashOn:
    """A pipeline step that kills its own (worker) process, as a decoder segfault would, when the
    sample's path ends with ``name``."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, results: dict) -> dict:
        if str(results.get('img_path', '')).endswith(self.name):
            os.kill(os.getpid(), signal.SIGKILL)
        return results

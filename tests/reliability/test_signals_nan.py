"""SIGTERM / Ctrl-C during `fovea train` and non-finite losses, in process (no start-up cost).

SIGTERM and SIGINT stop after the current iteration, save ``interrupted_iter_N.pth``, print a clear
message and exit non-zero; `--resume` then reaches the same weights as the uninterrupted run (made in
a separate process by the ``reference`` fixture, so this also checks cross-process determinism).
A NaN loss stops training within one logging interval with the iteration, loss terms and lr in the
message and no NaN weights on disk, or, with ``optim_wrapper.skip_nonfinite=True``, skips the update.
"""
from __future__ import annotations

import logging
import math
import signal
from pathlib import Path

import pytest
import torch

from _faults import ITERS_PER_EPOCH, assert_same_weights, fault_hook_option, tiny_options
from fovea.cli.main import main
from fovea.config import Config
from fovea.engine.runner import NonFiniteLossError, Runner

E = ITERS_PER_EPOCH


def _train(argv_options: list[str], resume: bool = False) -> int:
    argv = ['train', 'lenet5_digits', '--seed', '0'] + (['--resume'] if resume else []) + ['--cfg-options',
                                                                                            *argv_options]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


def _all_checkpoints_finite(work: Path) -> list[Path]:
    paths = sorted(work.rglob('*.pth'))
    for p in paths:
        sd = torch.load(p, weights_only=True)['state_dict']
        assert all(bool(torch.isfinite(v).all()) for v in sd.values() if v.is_floating_point()), p
    return paths


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT'])
def test_signal_saves_checkpoint_exits_nonzero_and_resumes_identically(signame, tmp_path, capsys, caplog, reference):
    work = tmp_path / 'work'
    hook = fault_hook_option(marker_dir=str(tmp_path), signal_iter=E + 1, signal_name=signame)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with caplog.at_level(logging.INFO, logger='fovea'):
        code = _train(tiny_options(work, extra=(hook,)))
    err = capsys.readouterr()
    assert code == 1
    # the step that was running finishes, then a checkpoint is written and the message says how to go on
    ckpt_path = next(work.rglob('interrupted_iter_*.pth'))
    assert ckpt_path.name == f'interrupted_iter_{E + 2}.pth'
    assert f'Received {signame}: stopping after this iteration' in caplog.text
    assert 'Training stopped by a signal' in err.err and str(ckpt_path) in err.err and '--resume auto' in err.err
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert ckpt['meta']['iter'] == E + 2 and ckpt['meta']['epoch'] == 1
    assert {s: signal.getsignal(s) for s in handlers} == handlers       # handlers restored
    assert not list(work.rglob('*.tmp'))

    caplog.clear()
    with caplog.at_level(logging.INFO, logger='fovea'):
        assert _train(tiny_options(work), resume=True) == 0
    assert f'Resumed from {ckpt_path}' in caplog.text
    last = Path((work / 'last_checkpoint').read_text().strip())
    assert_same_weights(reference[1], torch.load(last, weights_only=True)['state_dict'])


def test_second_ctrl_c_aborts_without_saving(tmp_path, capsys):
    work = tmp_path / 'work'
    hook = fault_hook_option(marker_dir=str(tmp_path), signal_iter=2, signal_name='SIGINT,SIGINT')
    assert _train(tiny_options(work, extra=(hook,))) == 130
    assert 'interrupted' in capsys.readouterr().err
    assert not list(work.rglob('interrupted_iter_*.pth'))


def test_nan_loss_stops_within_one_logging_interval(tmp_path, capsys):
    work = tmp_path / 'work'
    # logging every 2 iterations; the loss is NaN in iteration E + 1 (0-based), logged at iteration E + 2
    hook = fault_hook_option(marker_dir=str(tmp_path), nan_iter=E)
    assert _train(tiny_options(work, extra=(hook,))) == 1
    err = capsys.readouterr().err
    assert f'Non-finite loss at iteration {E + 2}' in err
    assert 'loss=nan' in err and 'lr=' in err and '(epoch 2)' in err
    # epoch 1 was saved before the fault; nothing after it, and no file holds NaN weights
    assert [p.name for p in _all_checkpoints_finite(work) if not p.name.startswith('best')] == ['epoch_1.pth']


def test_nan_loss_skipped_when_configured(tmp_path, caplog):
    work = tmp_path / 'work'
    cfg = Config.fromfile('lenet5_digits', tiny_options(work, epochs=2, extra=(
        fault_hook_option(marker_dir=str(tmp_path), nan_iter=E + 1), 'optim_wrapper.skip_nonfinite=True',
        'randomness.seed=0')))
    runner = Runner.from_cfg(cfg)
    with caplog.at_level(logging.WARNING, logger='fovea'):
        runner.train()
    assert runner.iter == 2 * E and runner.optim_wrapper.skipped_steps == 1
    warning = next(r.getMessage() for r in caplog.records if 'Non-finite loss' in r.getMessage())
    assert 'loss=nan' in warning and 'lr=' in warning and 'skipped' in warning
    assert len(_all_checkpoints_finite(work)) >= 2
    assert math.isfinite(runner.last_metrics['val']['accuracy/top1'])


def test_skip_nonfinite_stops_when_every_step_of_an_interval_fails(tmp_path):
    cfg = Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w', extra=(
        fault_hook_option(marker_dir=str(tmp_path), nan_iter=1, nan_count=100), 'optim_wrapper.skip_nonfinite=True',
        'randomness.seed=0')))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError, match='Non-finite loss at iteration 4 '):  # iterations 3 and 4 both bad
        runner.train()
    assert runner.optim_wrapper.skipped_steps == 3
    assert all(bool(torch.isfinite(p).all()) for p in runner.model.parameters())


def test_nan_weights_are_never_saved(tmp_path):
    cfg = Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w', epochs=1, extra=('randomness.seed=0',)))
    runner = Runner.from_cfg(cfg)
    runner.train()
    good = Path((runner.work_dir / 'last_checkpoint').read_text().strip())
    before = good.read_bytes()
    with torch.no_grad():
        runner.model.backbone.parameters().__next__().view(-1)[0] = float('inf')
    with pytest.raises(NonFiniteLossError, match='NaN or Inf'):
        runner.save_checkpoint(runner.run_dir / 'epoch_9.pth')
    assert not (runner.run_dir / 'epoch_9.pth').exists() and good.read_bytes() == before
    assert Path((runner.work_dir / 'last_checkpoint').read_text().strip()) == good

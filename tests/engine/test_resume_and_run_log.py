"""What a run leaves behind and picks up again: the fatal error in the run's own log file, a clear
refusal to resume a finished run (creating nothing), and the best score restored on resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fovea.config import Config
from fovea.engine.hooks import Hook
from fovea.engine.runner import Runner
from fovea.utils.errors import ConfigError

TINY = ['train_dataloader.dataset.indices=128', 'val_dataloader.dataset.indices=96', 'train_cfg.val_interval=1',
        'default_hooks.logger.tensorboard=False', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1', 'env_cfg.precision=fp32', 'param_scheduler.0.end=4']


def _runner(work_dir, *options, **extra) -> Runner:
    cfg = Config.fromfile('lenet5_digits', [f'work_dir={work_dir}', *TINY, *options])
    cfg.update(extra)
    return Runner.from_cfg(cfg)


class _Boom(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 2:
            raise RuntimeError('boom at iteration 3')


def test_fatal_error_is_recorded_in_the_run_log(tmp_path):
    runner = _runner(tmp_path, 'train_cfg.max_epochs=1', custom_hooks=[dict(type=_Boom)])
    with pytest.raises(RuntimeError, match='boom'):
        runner.train()
    log = (Path(runner.run_dir) / f'{runner.timestamp}.log').read_text()
    assert 'train failed: RuntimeError: boom at iteration 3' in log
    assert 'Traceback (most recent call last)' in log and 'after_train_iter' in log


def test_resume_of_a_finished_run_says_so_and_creates_nothing(tmp_path):
    _runner(tmp_path, 'train_cfg.max_epochs=1', 'param_scheduler.1.end=2').train()
    before = sorted(p.name for p in tmp_path.iterdir())
    ckpt = next(tmp_path.glob('*/epoch_1.pth'))
    for resume in ('auto', str(ckpt)):
        with pytest.raises(ConfigError, match=rf'already finished at epoch 1 \(checkpoint {ckpt}\).*'
                                              r'Raise train_cfg.max_epochs above 1'):
            _runner(tmp_path, 'train_cfg.max_epochs=1', 'param_scheduler.1.end=2', f'resume={resume!r}').train()
    assert sorted(p.name for p in tmp_path.iterdir()) == before   # no new run folder


def test_best_score_is_restored_from_the_checkpoints_on_resume(tmp_path):
    """epoch_2.pth is written before epoch 2's validation; when that validation set a new best, resuming
    from epoch_2.pth must know it (before, it kept epoch 1's score and path)."""
    opts = ['train_cfg.max_epochs=3', 'param_scheduler.1.end=3', "default_hooks.checkpoint.save_best='auto'"]
    first = _runner(tmp_path / 'a', *opts)
    first.train()
    run_dir = Path(first.run_dir)
    scores = [r['accuracy/top1'] for r in map(json.loads, (run_dir / 'scalars.json').read_text().splitlines())
              if 'accuracy/top1' in r]
    assert scores[1] > scores[0], scores  # epoch 2 improved on epoch 1: epoch_2.pth's own record is one behind
    second = _runner(tmp_path / 'b', *opts, resume=str(run_dir / 'epoch_2.pth'))
    second._setup_training()
    hook = next(h for h in second.hooks if type(h).__name__ == 'CheckpointHook')
    assert hook.best_score == pytest.approx(max(scores[:2]))
    assert hook.best_path == str(run_dir / 'best_accuracy_top1_epoch_2.pth')

"""Two trainings started into one work dir in the same second: each gets its own run folder, and
checkpoint retention (keep-N, best) never deletes a checkpoint that the other run wrote."""
from __future__ import annotations

from pathlib import Path

import pytest

from _faults import tiny_options
from fovea.config import Config
from fovea.convert import read_weights
from fovea.engine.hooks import CheckpointHook
from fovea.engine.runner import Runner

FROZEN = '20260101_000000'


@pytest.fixture
def frozen_clock(monkeypatch):
    import fovea.engine.runner as runner_mod
    monkeypatch.setattr(runner_mod.time, 'strftime', lambda fmt, *a: FROZEN)


def _runner(work_dir: Path, *extra: str) -> Runner:
    return Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(work_dir, epochs=2, extra=extra)))


def test_same_second_runs_get_their_own_folders(tmp_path, frozen_clock):
    a, b = _runner(tmp_path / 'w'), _runner(tmp_path / 'w')
    a.train()
    b.train()
    assert a.run_dir == tmp_path / 'w' / FROZEN and b.run_dir == tmp_path / 'w' / f'{FROZEN}_1'
    for r in (a, b):
        assert (r.run_dir / 'epoch_2.pth').is_file() and (r.run_dir / f'{r.timestamp}.log').is_file()
        assert read_weights(r.run_dir / 'epoch_2.pth')['meta']['timestamp'] == r.timestamp
        assert len(list(r.run_dir.glob('best_*.pth'))) == 1
    assert 'Epoch' in (a.run_dir / f'{FROZEN}.log').read_text()


def test_retention_deletes_only_its_own_checkpoints(tmp_path, frozen_clock):
    """Both runs save into one out_dir; A's keep-1 and best rotation meet files B wrote over."""
    shared = tmp_path / 'shared'
    opts = (f'default_hooks.checkpoint.out_dir={shared}', 'default_hooks.checkpoint.max_keep_ckpts=1',
            'default_hooks.checkpoint.save_best=accuracy/top1')
    a, b = _runner(tmp_path / 'w', *opts), _runner(tmp_path / 'w', *opts)
    for r in (a, b):
        r._setup_training()
    ha, hb = (next(h for h in r.hooks if isinstance(h, CheckpointHook)) for r in (a, b))
    ha._periodic(a, 'epoch_1.pth')
    hb._periodic(b, 'epoch_1.pth')  # B replaces A's epoch_1.pth
    ha._periodic(a, 'epoch_2.pth')  # A's keep-1 would delete epoch_1.pth, which is B's now
    assert read_weights(shared / 'epoch_1.pth')['meta']['timestamp'] == b.timestamp
    hb._periodic(b, 'epoch_2.pth')  # B's own rotation still works
    assert not (shared / 'epoch_1.pth').exists()

    best0 = shared / 'best_accuracy_top1_epoch_0.pth'
    ha.after_val_epoch(a, {'accuracy/top1': 50.0})
    hb.after_val_epoch(b, {'accuracy/top1': 40.0})  # B replaces A's best of epoch 0
    a.epoch = 1
    ha.after_val_epoch(a, {'accuracy/top1': 60.0})  # A's new best would delete B's file
    assert best0.is_file() and read_weights(best0)['meta']['timestamp'] == b.timestamp
    assert (shared / 'best_accuracy_top1_epoch_1.pth').is_file()
    b.epoch = 1
    hb.after_val_epoch(b, {'accuracy/top1': 45.0})
    assert not best0.exists()  # B deletes its own superseded best

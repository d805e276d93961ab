"""The Runner end to end on the bundled digits: accuracy, test reproduction, resume equivalence, checkpoints."""
import logging
import os
from pathlib import Path

import pytest
import torch

from fovea.config import Config
from fovea.convert import load_weights, read_weights
from fovea.engine.runner import Runner
from fovea.utils.errors import CheckpointError, ConfigError


def make_runner(tmp_path, *options, name='run'):
    cfg = Config.fromfile('lenet5_digits', [f'work_dir={tmp_path / name}', *options])
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The shipped default run, unchanged."""
    tmp = tmp_path_factory.mktemp('default')
    runner = make_runner(tmp)
    runner.train()
    return runner


def test_default_run_reaches_95_percent_and_saves(trained):
    acc = trained.last_metrics['val']['accuracy/top1']
    assert acc >= 95.0, acc
    run_dir = Path(trained.run_dir)
    assert (run_dir / 'epoch_20.pth').is_file()
    assert (run_dir / 'lenet5_digits.py').is_file()          # resolved config saved with the run
    lines = (run_dir / 'scalars.json').read_text().splitlines()
    assert any('accuracy/top1' in line for line in lines) and any('"loss"' in line for line in lines)
    # max_keep_ckpts=2 keeps the two newest periodic checkpoints, plus the best one
    assert sorted(p.name for p in run_dir.glob('epoch_*.pth')) == ['epoch_15.pth', 'epoch_20.pth']
    assert len(list(run_dir.glob('best_accuracy_top1_epoch_*.pth'))) == 1


def test_checkpoint_is_weights_only_loadable_and_complete(trained):
    ckpt = torch.load(Path(trained.run_dir) / 'epoch_20.pth', weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers', 'rng'} <= set(ckpt)
    assert ckpt['meta']['epoch'] == 20 and ckpt['meta']['iter'] == 20 * 45
    assert 'LeNet5' in ckpt['meta']['config']
    assert not list(Path(trained.run_dir).glob('.*.tmp'))   # no temp files left behind


def test_test_reproduces_validation(trained, tmp_path):
    runner = make_runner(tmp_path, f'load_from={Path(trained.run_dir) / "epoch_20.pth"}')
    metrics = runner.test()
    assert metrics['accuracy/top1'] == pytest.approx(trained.last_metrics['val']['accuracy/top1'])


@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_resume_gives_identical_weights(tmp_path, precision):
    opts = ['train_cfg.max_epochs=4', 'train_cfg.val_interval=2', f'env_cfg.precision={precision}',
            'default_hooks.checkpoint.max_keep_ckpts=-1', 'default_hooks.checkpoint.interval=1',
            'param_scheduler.1.end=4']
    straight = make_runner(tmp_path, *opts, name='straight')
    straight.train()
    # as if the process died after epoch 2: a new runner resumes from that epoch's checkpoint
    ep2 = Path(straight.run_dir) / 'epoch_2.pth'
    second = make_runner(tmp_path, *opts, f'resume={ep2}', name='resumed')
    second.train()
    assert second.iter == straight.iter
    for (k, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_auto_finds_latest_and_mid_epoch_interrupt(tmp_path):
    opts = ['train_cfg.max_epochs=2', 'env_cfg.precision=fp32', 'param_scheduler.1.end=2']
    ref = make_runner(tmp_path, *opts, name='ref')
    ref.train()

    class StopAt:  # simulates SIGTERM arriving during iteration 30 of epoch 1
        priority = 'NORMAL'

        def __getattr__(self, name):
            return lambda *a, **k: None

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 30:
                runner.stop_requested = True

    r1 = make_runner(tmp_path, *opts, name='job')
    r1.register_hook(StopAt())
    from fovea.engine.runner import TrainingInterrupted
    with pytest.raises(TrainingInterrupted, match='--resume auto'):
        r1.train()
    r2 = make_runner(tmp_path, *opts, 'resume=True', name='job')
    r2.train()
    assert r2.iter == ref.iter == 90
    for (k, a), b in zip(ref.model.state_dict().items(), r2.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_load_mismatched_checkpoint_reports_keys(trained, tmp_path):
    from fovea.registry import MODELS
    other = MODELS.build(dict(type='ImageClassifier', backbone=dict(type='LeNet5'), neck=dict(type='GlobalAveragePooling'),
                              head=dict(type='LinearClsHead', num_classes=5, in_channels=120)))
    report = load_weights(other, Path(trained.run_dir) / 'epoch_20.pth')
    assert [m[0] for m in report.mismatched] == ['head.fc.weight', 'head.fc.bias']
    assert 'shape mismatch' in str(report) and 'backbone.features.0.weight' in report.loaded
    with pytest.raises(CheckpointError, match='does not match'):
        load_weights(other, Path(trained.run_dir) / 'epoch_20.pth', strict=True)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match='empty'):
        read_weights(empty)
    trunc = tmp_path / 'trunc.pth'
    torch.save({'state_dict': {'w': torch.zeros(100)}}, trunc)
    trunc.write_bytes(trunc.read_bytes()[:50])
    with pytest.raises(CheckpointError, match='truncated'):
        read_weights(trunc)
    with pytest.raises(CheckpointError, match='does not exist'):
        read_weights(tmp_path / 'missing.pth')


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / 'pwned'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'x': Evil()}, path)
    with pytest.raises(CheckpointError, match='refused'):
        read_weights(path)
    assert not marker.exists()


def test_atomic_write_keeps_previous_file(tmp_path, monkeypatch):
    from fovea.engine.checkpoint import save_checkpoint
    from fovea.utils.io import SaveError
    path = tmp_path / 'ckpt.pth'
    save_checkpoint({'a': torch.ones(3)}, path)

    def full_disk(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full_disk)
    with pytest.raises(SaveError, match='disk is full'):
        save_checkpoint({'a': torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)['a'], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pth']


def test_missing_sections_are_named(tmp_path):
    runner = make_runner(tmp_path, 'train_dataloader=None')
    with pytest.raises(ConfigError, match='train_dataloader'):
        runner.train()


def test_sigmoid_cross_entropy_matches_mmpretrain_scale():
    """MMPretrain sums the per-class BCE of a sample and averages over the batch (avg_factor=B)."""
    from fovea.models.losses import CrossEntropyLoss
    torch.manual_seed(0)
    x, y = torch.randn(4, 6), (torch.rand(4, 6) > 0.5).float()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction='sum') / 4
    torch.testing.assert_close(CrossEntropyLoss(use_sigmoid=True)(x, y, avg_factor=4), expected)
    weight = torch.tensor([1., 0., 1., 0.])
    per_sample = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction='none').sum(1)
    torch.testing.assert_close(CrossEntropyLoss(use_sigmoid=True)(x, y, weight=weight, avg_factor=4),
                               (per_sample * weight).sum() / 4)


def test_sigterm_during_setup_saves_and_resumes(tmp_path):
    import signal

    from fovea.engine.runner import TrainingInterrupted

    class TermAtStart:  # the signal arrives before the first iteration
        priority = 'NORMAL'

        def __getattr__(self, name):
            return lambda *a, **k: None

        def before_run(self, runner):
            os.kill(os.getpid(), signal.SIGTERM)

    opts = ['train_cfg.max_epochs=2', 'env_cfg.precision=fp32', 'param_scheduler.1.end=2']
    r1 = make_runner(tmp_path, *opts, name='job')
    r1.register_hook(TermAtStart())
    with pytest.raises(TrainingInterrupted, match='iteration 0'):
        r1.train()
    assert (Path(r1.run_dir) / 'interrupted_iter_0.pth').is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    r2 = make_runner(tmp_path, *opts, 'resume=True', name='job')
    r2.train()
    assert r2.iter == 90


def test_persistent_workers_stop_when_the_run_ends(tmp_path):
    # they used to live until the loader was garbage-collected, possibly inside a worker of the next
    # run in the same process, where torch printed "can only test a child process" tracebacks
    runner = make_runner(tmp_path, 'train_cfg.max_epochs=1', 'train_dataloader.num_workers=1',
                         'train_dataloader.persistent_workers=True', 'val_dataloader.num_workers=1',
                         'val_dataloader.persistent_workers=True')
    runner.train()
    assert runner.train_dataloader._iterator is None and runner.val_loop.dataloader._iterator is None
    import multiprocessing
    assert not [p for p in multiprocessing.active_children() if 'Worker' in p.name or p.daemon]
    assert runner.val()['accuracy/top1'] > 0      # the loader starts its workers again when asked

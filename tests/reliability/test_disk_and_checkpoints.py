"""Saving when the disk is full or the work dir is not writable, and loading bad checkpoints.

A failed save names the file and the cause, keeps the previous checkpoint byte for byte, leaves no
temporary file and does not move ``last_checkpoint``. Bad checkpoints (truncated, empty, another
architecture, missing keys) get a report of what does and does not match.
"""
from __future__ import annotations

import errno
import os
import resource
import signal
import sys
from pathlib import Path

import pytest
import torch

import fovea.utils.io as fio
from _faults import tiny_options
from fovea.config import Config
from fovea.convert import load_weights, read_weights
from fovea.engine.runner import Runner
from fovea.models.backbones.lenet import LeNet5
from fovea.utils.errors import CheckpointError
from fovea.utils.io import SaveError, atomic_write_bytes, remove_stale_temp_files


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp('disk') / 'work'
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(work, epochs=1, extra=('randomness.seed=0',))))
    runner.train()
    return runner


def _pointer(runner) -> Path:
    return Path((runner.work_dir / 'last_checkpoint').read_text().strip())


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob('*') if p.name.endswith('.tmp')]


@pytest.mark.parametrize('err', [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_disk_full_during_checkpoint_save(trained, monkeypatch, err):
    good = _pointer(trained)
    before = good.read_bytes()

    def failing_fsync(fd):
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(os, 'fsync', failing_fsync)
    target = trained.run_dir / 'epoch_2.pth'
    with pytest.raises(SaveError) as exc:
        trained.save_checkpoint(target)
    monkeypatch.undo()
    msg = str(exc.value)
    assert str(target) in msg and 'previous version of the file is unchanged' in msg
    if err != errno.EIO:
        assert 'disk is full' in msg
    assert errno.errorcode[err] in msg
    assert not target.exists() and _no_temp_files(trained.work_dir)
    assert good.read_bytes() == before and _pointer(trained) == good
    assert torch.load(good, weights_only=True)['meta']['epoch'] == 1


def test_overwriting_a_checkpoint_that_fails_keeps_the_old_one(trained, monkeypatch):
    good = _pointer(trained)
    before = good.read_bytes()
    monkeypatch.setattr(os, 'replace', lambda *a: (_ for _ in ()).throw(OSError(errno.EROFS, 'Read-only file system')))
    with pytest.raises(SaveError, match='not writable'):
        trained.save_checkpoint(good)
    monkeypatch.undo()
    assert good.read_bytes() == before and _no_temp_files(trained.work_dir)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_real_write_error_from_the_kernel_file_size_limit(tmp_path):
    """RLIMIT_FSIZE makes write() itself fail (EFBIG), as a full disk does, in a forked child."""
    target = tmp_path / 'big.pth'
    target.write_bytes(b'old')
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
            try:
                atomic_write_bytes(target, b'x' * (1 << 20))
                msg = 'no error'
            except SaveError as exc:
                msg = 'SaveError: ' + str(exc)
            os.write(w, msg.encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    msg = os.read(r, 4096).decode()
    assert msg.startswith('SaveError') and 'EFBIG' in msg and str(target) in msg, msg
    assert target.read_bytes() == b'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['big.pth']


def test_unwritable_work_dir_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('x')
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(blocker / 'work', epochs=1)))
    with pytest.raises(SaveError, match='Could not write .*not_a_folder'):
        runner.train()
    # a read-only file system (simulated: the test may run as root, which ignores permissions)
    def readonly(*args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system')
    monkeypatch.setattr(fio.tempfile, 'mkstemp', readonly)
    with pytest.raises(SaveError, match='not writable; fix its permissions or choose another work_dir'):
        atomic_write_bytes(tmp_path / 'a.pth', b'123')
    assert not (tmp_path / 'a.pth').exists()


def test_stale_temp_files_only_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / f'.epoch_1.pth.{fio._HOST}-999999999.abc123.tmp'       # no such process
    alive = tmp_path / f'.epoch_2.pth.{fio._HOST}-{os.getppid()}.abc123.tmp'  # a live process
    other_host = tmp_path / '.epoch_3.pth.otherhost-1.abc123.tmp'
    unrelated = tmp_path / '.notes.tmp'
    for p in (dead, alive, other_host, unrelated):
        p.write_bytes(b'partial')
    assert remove_stale_temp_files(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (alive, other_host, unrelated))


def test_saved_files_have_normal_permissions(trained):
    mode = _pointer(trained).stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


# ---------------------------------------------------------------- bad checkpoints
def test_truncated_and_empty_checkpoints(trained, tmp_path):
    data = _pointer(trained).read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 1):
        p = tmp_path / f'cut_{n}.pth'
        p.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match=r'empty \(0 bytes\)|truncated or not a PyTorch checkpoint') as e:
            read_weights(p)
        assert str(p) in str(e.value)
    with pytest.raises(CheckpointError, match='does not exist'):
        read_weights(tmp_path / 'missing.pth')


def test_resume_auto_skips_a_damaged_newest_checkpoint(trained, tmp_path, caplog):
    import shutil
    work = tmp_path / 'work'
    shutil.copytree(trained.work_dir, work)
    good = next(work.rglob('epoch_1.pth'))
    bad = good.with_name('epoch_2.pth')
    bad.write_bytes(good.read_bytes()[:1000])              # e.g. damaged by a failing disk
    (work / 'last_checkpoint').write_text(str(bad))
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(work, epochs=1, extra=('resume=True',))))
    runner.train()
    assert 'cannot resume from' in caplog.text and f'Resumed from {good}' in caplog.text


def test_wrong_architecture_and_missing_keys_report(trained, tmp_path):
    sd = torch.load(_pointer(trained), weights_only=True)['state_dict']
    other = torch.nn.Sequential(torch.nn.Linear(3, 4))
    with pytest.raises(CheckpointError, match='None of the .* tensors .* fit Sequential.*another architecture'):
        load_weights(other, sd)
    # a LeNet5 checkpoint with a layer missing and one with another shape
    model = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path, epochs=1))).model
    partial = {k: v for k, v in sd.items() if not k.startswith('backbone.features.0.')}
    partial['head.fc.weight'] = torch.zeros(5, 120)
    partial['extra.weight'] = torch.zeros(1)
    report = load_weights(model, partial)
    text = str(report)
    assert 'missing in checkpoint (2): backbone.features.0.weight, backbone.features.0.bias' in text
    assert 'unexpected in checkpoint (1): extra.weight' in text
    assert 'head.fc.weight checkpoint (5, 120) vs model (10, 120)' in text
    with pytest.raises(CheckpointError, match='does not match ImageClassifier.*strict=False'):
        load_weights(model, partial, strict=True)


def test_resume_from_a_weights_only_file_says_use_load_from(trained, tmp_path):
    sd = torch.load(_pointer(trained), weights_only=True)['state_dict']
    p = tmp_path / 'weights.pth'
    torch.save(sd, p)
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w', extra=(f'resume={p}',))))
    with pytest.raises(CheckpointError, match='not a fovea training checkpoint.*use load_from'):
        runner.train()


def test_resume_from_an_iteration_checkpoint_is_exact(tmp_path):
    """Checkpoints saved every 3 iterations (mid-epoch, in after_train_iter) record the iteration as
    done: resuming from one must not run it twice."""
    opts = ('default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.interval=3',
            'default_hooks.checkpoint.max_keep_ckpts=-1', 'randomness.seed=0')
    straight = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'a', epochs=2, extra=opts)))
    straight.train()
    mid = straight.run_dir / 'iter_3.pth'
    assert torch.load(mid, weights_only=True)['meta']['iter'] == 3
    resumed = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'b', epochs=2,
                                                                             extra=(*opts, f'resume={mid}'))))
    resumed.train()
    assert resumed.iter == straight.iter
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_auto_without_checkpoints_still_removes_leftovers(tmp_path, caplog):
    """Killed while writing its very first checkpoint: nothing to resume from, but the partial file goes."""
    leftover = tmp_path / 'work' / '20000101_000000' / f'.epoch_1.pth.{fio._HOST}-999999999.abcd.tmp'
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b'partial')
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'work', epochs=1,
                                                                          extra=('resume=True',))))
    runner.train()
    assert not leftover.exists() and f'Removed {leftover}' in caplog.text

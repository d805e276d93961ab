"""`fovea train` killed with SIGKILL during an iteration, during validation and while writing a
checkpoint: the previous checkpoint stays intact, `--resume auto` continues, and the final weights
equal (bitwise) those of an uninterrupted run. The uninterrupted run also shows that training writes
nothing outside its work dir (no files in the current folder, $HOME, $TMPDIR or the cache dir)."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from _faults import ITERS_PER_EPOCH, assert_same_weights, fault_hook_option, sigkill, start, tiny_options, train_cmd, \
    wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='uses /proc and POSIX signals')


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob('*'))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pointer(work: Path) -> Path:
    return Path((work / 'last_checkpoint').read_text().strip())


def test_training_writes_only_into_its_work_dir(sandbox, reference):
    root, dirs, env = sandbox
    for name in ('cwd', 'home', 'tmp', 'cache'):
        assert _files(dirs[name]) == [], f'training wrote into {name}: {_files(dirs[name])}'
    work, _ = reference
    run_dirs = [p for p in work.iterdir() if p.is_dir()]
    assert len(run_dirs) == 1 and (work / 'last_checkpoint').is_file()
    assert not list(work.rglob('.*.tmp'))


def test_sigkill_at_three_points_then_resume_gives_identical_weights(sandbox, reference, tmp_path):
    _, dirs, env = sandbox
    work, markers = tmp_path / 'work', tmp_path / 'markers'
    log = tmp_path / 'train.log'
    e = ITERS_PER_EPOCH

    # 1) killed in the middle of epoch 2 (before iteration e + 2): epoch_1.pth must survive untouched
    proc = start(train_cmd(tiny_options(work, extra=(fault_hook_option(marker_dir=str(markers),
                                                                        pause_iter=e + 2),))), dirs['cwd'], log, env)
    wait_for(markers / f'paused_iter_{e + 2}', proc)
    ep1 = _pointer(work)
    assert ep1.name == 'epoch_1.pth'
    before = _digest(ep1)
    sigkill(proc)
    assert _pointer(work) == ep1 and _digest(ep1) == before
    assert torch.load(ep1, weights_only=True)['meta']['iter'] == e

    # 2) resumed, then killed during the validation after epoch 2 (epoch_2.pth is already written)
    proc = start(train_cmd(tiny_options(work, extra=(fault_hook_option(marker_dir=str(markers), pause_val_epoch=2),)),
                           resume=True), dirs['cwd'], log, env)
    wait_for(markers / 'paused_val_2', proc)
    sigkill(proc)
    ep2 = _pointer(work)
    assert ep2.name == 'epoch_2.pth'
    assert torch.load(ep2, weights_only=True)['meta']['epoch'] == 2
    before = _digest(ep2)

    # 3) resumed, then killed while epoch_3.pth is being written (all bytes written, not yet renamed)
    proc = start(train_cmd(tiny_options(work, extra=(fault_hook_option(marker_dir=str(markers), pause_save='epoch_3'),)),
                           resume=True), dirs['cwd'], log, env)
    wait_for(markers / 'paused_save', proc)
    sigkill(proc)
    leftovers = list(work.rglob('.epoch_3.pth.*.tmp'))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0     # the partial file, under a temp name
    assert not list(work.rglob('epoch_3.pth'))
    assert _pointer(work) == ep2 and _digest(ep2) == before
    assert torch.load(ep2, weights_only=True)['meta']['epoch'] == 2

    # 4) resumed to the end: same weights as the uninterrupted run, the leftover removed
    out = subprocess.run(train_cmd(tiny_options(work), resume=True), cwd=dirs['cwd'], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert 'Removed' in out.stdout and leftovers[0].name in out.stdout
    assert not list(work.rglob('*.tmp'))
    ckpt = torch.load(_pointer(work), weights_only=True)
    assert ckpt['meta']['epoch'] == 3 and ckpt['meta']['iter'] == 3 * e
    assert_same_weights(reference[1], ckpt['state_dict'])
    assert _files(dirs['cwd']) == []

"""Two CPU processes under torchrun give the same model as one process on the same global batch."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

OPTS = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=1', 'env_cfg.precision=fp32',
        'train_dataloader.dataset.indices=1408', 'param_scheduler.1.end=2', 'default_hooks.logger.interval=11']


def _final_weights(work_dir: Path) -> dict:
    ckpt = sorted(work_dir.rglob('epoch_2.pth'))[-1]
    return torch.load(ckpt, weights_only=True)['state_dict']


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1'}
    ddp = subprocess.run(
        [torchrun, '--nproc_per_node=2', '--master_port=29531', '-m', 'fovea', 'train', 'lenet5_digits',
         '--work-dir', str(tmp_path / 'ddp'), '--cfg-options', *OPTS, 'train_dataloader.batch_size=16'],
        capture_output=True, text=True, env=env, timeout=300)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    assert 'x 2 process(es)' in ddp.stdout
    single = subprocess.run(
        [sys.executable, '-m', 'fovea', 'train', 'lenet5_digits', '--work-dir', str(tmp_path / 'single'),
         '--cfg-options', *OPTS, 'train_dataloader.batch_size=32'],
        capture_output=True, text=True, env=env, timeout=300)
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    a, b = _final_weights(tmp_path / 'ddp'), _final_weights(tmp_path / 'single')
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # validation metrics are gathered over both ranks: same accuracy line in both logs
    acc = [line.split('accuracy/top1: ')[1].split()[0] for line in ddp.stdout.splitlines() if 'Epoch(val) [2]' in line]
    acc1 = [line.split('accuracy/top1: ')[1].split()[0] for line in single.stdout.splitlines()
            if 'Epoch(val) [2]' in line]
    assert acc and acc == acc1

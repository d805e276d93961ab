"""`torchrun --max-restarts` recovers a fovea run: 2 CPU processes (gloo, c10d rendezvous), one rank
SIGKILLed mid-training, torchrun restarts the group, `--resume auto` continues from the last checkpoint,
the job exits 0 and its final weights equal (bitwise) those of an uninterrupted 2-process run.

Before failure reports were tied to one attempt, the restarted group found the first attempt's report
("rank 0 ...: Connection reset by peer") in the rendezvous store, which outlives restarts, and stopped
itself again until the restarts were used up.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _faults import ITERS_PER_EPOCH, assert_same_weights, final_state, subprocess_env, tiny_options

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith('linux'), reason='POSIX processes')]

EPOCHS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _torchrun(work: Path, *extra: str) -> list[str]:
    return [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--max-restarts=2',
            '--rdzv_backend=c10d', f'--rdzv_endpoint=127.0.0.1:{_free_port()}', '--monitor-interval=0.2',
            '-m', 'fovea', 'train', 'lenet5_digits', '--seed', '0', '--resume', 'auto', '--cfg-options',
            *tiny_options(work, epochs=EPOCHS, extra=('env_cfg.dist_cfg.backend=gloo', *extra))]


def test_sigkilled_rank_is_restarted_and_resumes_to_identical_weights(tmp_path):
    env = subprocess_env(OMP_NUM_THREADS='1')
    ref = subprocess.run(_torchrun(tmp_path / 'ref'), cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert ref.returncode == 0, ref.stdout[-2000:] + ref.stderr[-3000:]

    work, markers = tmp_path / 'work', tmp_path / 'markers'
    kill_at = 2 * (ITERS_PER_EPOCH // 2) + 1     # in epoch 3 (each rank runs half an epoch); epoch_2.pth is on disk
    log = tmp_path / 'elastic.log'
    with open(log, 'wb') as f:
        # rank 1 waits (once) to be killed; after the restart both ranks spend 5 s in one iteration, long
        # enough for fail-together's watchdog (0.5 s polls, 3 s grace) to act on a stale failure report
        hooks = [dict(type='_faults.FaultHook', marker_dir=str(markers), pause_iter=kill_at, pause_rank=1,
                      pause_once=True),
                 dict(type='_faults.FaultHook', marker_dir=str(markers / 'slow'), pause_iter=kill_at + 1, pause_s=5)]
        proc = subprocess.Popen(_torchrun(work, 'custom_hooks=' + repr(hooks).replace(' ', '')),
                                cwd=tmp_path, env=env, stdout=f, stderr=subprocess.STDOUT)
        marker = markers / f'paused_iter_{kill_at}'
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.05)
        time.sleep(0.2)   # the pid is written
        os.kill(int(marker.read_text()), 9)   # rank 1 of the first attempt, while rank 0 waits in a collective
        rc = proc.wait(120)
    out = log.read_text()
    assert rc == 0, out[-5000:]
    assert 'Resumed from' in out and 'epoch_2.pth' in out, out[-5000:]
    assert 'stopping rank' not in out.lower(), out[-5000:]
    assert_same_weights(final_state(work), final_state(tmp_path / 'ref'))

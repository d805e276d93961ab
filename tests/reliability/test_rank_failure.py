"""Two CPU processes (gloo): when one rank fails, the other stops within a bounded time and names it.

The processes are started by hand (as a cluster scheduler would; torchrun would also SIGTERM the
survivor itself). The surviving rank is busy outside any collective when its peer fails (it sleeps
in a hook for 120 s), so only fovea's fail-together watchdog can stop it early.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from _faults import fault_hook_option, subprocess_env, tiny_options, train_cmd

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'), reason='POSIX processes')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('failing', [1, pytest.param(0, marks=pytest.mark.slow)], ids=['worker_fails', 'store_host_fails'])
def test_one_rank_failing_stops_the_other_naming_it(tmp_path, failing):
    port = _free_port()
    survivor = 1 - failing
    procs = {}
    for rank in (0, 1):
        fault = dict(raise_iter=2, raise_rank=rank) if rank == failing else dict(pause_iter=2, pause_s=120)
        opts = tiny_options(tmp_path / 'work', epochs=2, extra=(
            fault_hook_option(marker_dir=str(tmp_path / f'm{rank}'), **fault), 'env_cfg.dist_cfg.timeout=60',
            'env_cfg.dist_cfg.backend=gloo'))
        env = subprocess_env(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2', LOCAL_WORLD_SIZE='2',
                             MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), OMP_NUM_THREADS='1')
        procs[rank] = subprocess.Popen(train_cmd(opts), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    out = {}
    t_fail = None
    deadline = time.monotonic() + 240
    while len(out) < 2 and time.monotonic() < deadline:
        for rank, p in procs.items():
            if rank not in out and p.poll() is not None:
                out[rank] = p.communicate()
                if rank == failing:
                    t_fail = time.monotonic()
        time.sleep(0.1)
    stopped_after = time.monotonic() - t_fail if t_fail else None
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    assert len(out) == 2, f'a rank did not exit: {out}'
    assert procs[failing].returncode != 0 and f'injected failure on rank {failing}' in out[failing][1]
    assert procs[survivor].returncode != 0
    err = out[survivor][1]
    assert f'stopping rank {survivor} because' in err.lower(), err[-3000:]
    # the failure report names the rank, its host and the exception; if the failed rank hosted the
    # rendezvous store and died before the survivor read the report, the survivor says the store is gone
    named = f'rank {failing} (host {socket.gethostname()}' in err and \
        f'RuntimeError: injected failure on rank {failing}' in err
    assert named or (failing == 0 and 'rendezvous store' in err and 'rank 0' in err), err[-3000:]
    assert stopped_after is not None and stopped_after < 45, stopped_after   # instead of sleeping 120 s


def test_failure_reports_belong_to_one_elastic_attempt(monkeypatch):
    """A restarted group (torchrun's TORCHELASTIC_RESTART_COUNT + 1) ignores the previous attempt's report,
    including one a dying process of that attempt writes late; its own attempt's reports still count."""
    import torch.distributed as dist
    from fovea.utils import dist as fdist
    monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'job7')
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    try:
        store = fdist._store()
        old = 'rank 1 (host h, pid 1): RuntimeError: Connection reset by peer'
        monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '0')
        store.set(fdist._failed_key(), old)
        assert fdist.peer_failure() == old
        monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '1')
        assert fdist.peer_failure() is None
        store.set('fovea/job7/0/failed_rank', old + ' (late)')   # written late by the old attempt
        assert fdist.peer_failure() is None
        monkeypatch.setenv('TORCHELASTIC_RUN_ID', 'another-job')
        monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '0')
        assert fdist.peer_failure() is None
    finally:
        dist.destroy_process_group()

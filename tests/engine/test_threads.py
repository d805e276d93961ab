"""Intra-op thread counts of the main process and the loader workers (fovea.utils.threads)."""
from __future__ import annotations

import logging

import pytest
import torch

from fovea.utils.errors import ConfigError
from fovea.utils.threads import SMALL_MODEL_PARAMS, plan_threads, usable_cores


@pytest.fixture(autouse=True)
def _no_omp_env(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_small_models_run_single_threaded_and_workers_get_one_thread():
    plan = plan_threads(61_706, num_workers=2, cores=16)
    assert (plan.main, plan.worker) == (1, 1) and 'small model' in plan.reason


def test_large_models_share_the_cores_with_the_workers_and_ranks():
    big = 10 * SMALL_MODEL_PARAMS
    assert plan_threads(big, num_workers=2, cores=16).main == 14
    assert plan_threads(big, num_workers=2, cores=16, local_ranks=2).main == 6
    assert plan_threads(big, num_workers=8, cores=4).main == 1
    assert plan_threads(big, num_workers=2, device_type='cuda', cores=64).main == 4
    assert usable_cores() >= 1


def test_config_and_environment_override(monkeypatch):
    plan = plan_threads(10, 2, num_threads=3, worker_threads=2, cores=2)
    assert (plan.main, plan.worker, plan.reason) == (3, 2, 'env_cfg.num_threads')
    monkeypatch.setenv('OMP_NUM_THREADS', '5')
    assert plan_threads(10, 0).main == 5
    for bad in (0, -1, 1.5, 'four', True):
        with pytest.raises(ConfigError, match='env_cfg.num_threads'):
            plan_threads(10, 0, num_threads=bad)
    with pytest.raises(ConfigError, match='env_cfg.worker_threads'):
        plan_threads(10, 0, worker_threads=0)


def test_quick_start_runs_single_threaded_and_says_so(tmp_path, caplog):
    from fovea.config import Config
    from fovea.engine.runner import Runner
    torch.set_num_threads(2)
    cfg = Config.fromfile('lenet5_digits')
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    assert torch.get_num_threads() == 1 and runner.threads.main == 1
    with caplog.at_level(logging.INFO, logger='fovea'):
        runner._describe_setup()
    assert 'threads: 1 intra-op in the main process (small model' in caplog.text


class ThreadCountProbe(torch.utils.data.Dataset):
    """Each sample is the intra-op thread count of the process that loads it."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return torch.get_num_threads()


def test_workers_run_the_configured_threads():
    from fovea.data.loader import build_dataloader
    for threads in (1, 2):
        loader = build_dataloader(dict(batch_size=1, num_workers=1, dataset=ThreadCountProbe()),
                                  worker_threads=threads)
        assert [int(b[0]) for b in loader] == [threads, threads]

"""Shared fixtures of the reliability suite: a sandboxed environment and the uninterrupted reference run."""
from __future__ import annotations

import subprocess

import pytest

from _faults import final_state, subprocess_env, tiny_options, train_cmd


@pytest.fixture(scope='session')
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp('sandbox')
    dirs = {name: root / name for name in ('cwd', 'home', 'tmp', 'cache')}
    for d in dirs.values():
        d.mkdir()
    env = subprocess_env(HOME=str(dirs['home']), TMPDIR=str(dirs['tmp']), FOVEA_HOME=str(dirs['cache']),
                         XDG_CACHE_HOME=str(dirs['home'] / '.cache'), MPLCONFIGDIR=str(dirs['home'] / '.mpl'))
    return root, dirs, env


@pytest.fixture(scope='session')
def reference(sandbox):
    """An uninterrupted run with the same seed."""
    root, dirs, env = sandbox
    work = root / 'ref'
    out = subprocess.run(train_cmd(tiny_options(work)), cwd=dirs['cwd'], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return work, final_state(work)



"""Samplers across two simulated ranks."""
from __future__ import annotations

import itertools
from collections import Counter

import pytest

import fovea.data.samplers as samplers
from fovea.registry import DATA_SAMPLERS


def _per_rank(monkeypatch, cfg, n, world=2):
    out = []
    for rank in range(world):
        monkeypatch.setattr(samplers, 'get_dist_info', lambda r=rank: (r, world))
        s = DATA_SAMPLERS.build(dict(cfg), dataset=list(range(n)))
        out.append(s)
    return out


@pytest.mark.parametrize('n', [10, 11])
def test_default_sampler_covers_each_index_once(monkeypatch, n):
    s0, s1 = _per_rank(monkeypatch, dict(type='DefaultSampler', shuffle=True, seed=7, round_up=False), n)
    a, b = list(s0), list(s1)
    assert sorted(a + b) == list(range(n)) and len(a) == len(s0) and len(b) == len(s1)
    s0.set_epoch(1)
    s1.set_epoch(1)
    a2, b2 = list(s0), list(s1)
    assert sorted(a2 + b2) == list(range(n)) and a2 != a  # reshuffled per epoch
    r0, r1 = _per_rank(monkeypatch, dict(type='DefaultSampler', shuffle=True, seed=7), n)
    assert len(list(r0)) == len(list(r1)) == -(-n // 2) and set(r0) | set(r1) == set(range(n))


def test_infinite_sampler(monkeypatch):
    s0, s1 = _per_rank(monkeypatch, dict(type='InfiniteSampler', shuffle=True, seed=1), 10)
    a = list(itertools.islice(iter(s0), 10))
    b = list(itertools.islice(iter(s1), 10))
    assert sorted(a[:5] + b[:5]) == list(range(10))  # first epoch split between the ranks
    assert sorted(a[5:] + b[5:]) == list(range(10))  # second epoch too


def test_repeat_aug_sampler(monkeypatch):
    s0, s1 = _per_rank(monkeypatch, dict(type='RepeatAugSampler', shuffle=True, num_repeats=3, seed=0), 12)
    a, b = list(s0), list(s1)
    assert len(a) == len(b) == 6 == len(s0)
    counts = Counter(a + b)
    assert max(counts.values()) <= 3
    # consecutive copies of one image are dealt to different ranks
    assert any(i in b for i in a)

"""build_dataloader options on small data."""
from __future__ import annotations

import pytest
import torch

from fovea.data.loader import build_dataloader
from fovea.utils.errors import ConfigError

DIGITS = dict(type='Digits', split='val', pipeline=[dict(type='PackInputs')])


def test_loader_options():
    loader = build_dataloader(dict(batch_size=50, num_workers=0, persistent_workers=True, prefetch_factor=2,
                                   pin_memory=True, drop_last=True, dataset=DIGITS,
                                   sampler=dict(type='DefaultSampler', shuffle=True)), seed=0)
    batches = list(loader)
    assert len(batches) == 364 // 50 and all(b['inputs'].shape == (50, 1, 8, 8) for b in batches)
    assert batches[0]['inputs'].dtype == torch.uint8 and len(batches[0]['data_samples']) == 50


def test_loader_workers_and_repeat_aug():
    loader = build_dataloader(dict(batch_size=64, num_workers=2, persistent_workers=True, dataset=DIGITS,
                                   sampler=dict(type='RepeatAugSampler', num_repeats=3)), seed=1)
    labels = torch.cat([torch.cat([s.gt_label for s in b['data_samples']]) for b in loader])
    assert len(labels) == 364  # an epoch keeps its length; images repeat 3 times in a row
    first = [b for b in loader][0]
    idx = [s.sample_idx for s in first['data_samples']]
    assert idx[0] == idx[1] == idx[2]


def test_unknown_loader_key():
    with pytest.raises(ConfigError, match=r'Unknown key train_dataloader\.batchsize\. Did you mean .batch_size.'):
        build_dataloader(dict(batchsize=4, dataset=DIGITS))

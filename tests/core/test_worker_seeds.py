"""Loader workers: augmentation randomness changes every epoch and repeats under the same seed."""
import random

import torch

from fovea.data.loader import build_dataloader
from fovea.registry import DATASETS


class _RandomValues(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {'inputs': torch.tensor([random.random()]), 'data_samples': i}


DATASETS.register_module(name='_RandomValuesForSeedTest', module=_RandomValues, force=True)


def _two_epochs(seed):
    torch.manual_seed(seed)
    loader = build_dataloader(dict(batch_size=4, num_workers=2, dataset=dict(type='_RandomValuesForSeedTest')),
                              seed=seed)
    return [next(iter(loader))['inputs'].flatten().tolist() for _ in range(2)]


def test_worker_randomness_differs_per_epoch_and_repeats_per_seed():
    first, again = _two_epochs(0), _two_epochs(0)
    assert first[0] != first[1]          # epoch 2 does not replay epoch 1's augmentations
    assert first == again                # same seed, same stream
    assert _two_epochs(1) != first

"""Jigsaw: the permutation set is deterministic, valid and at its minimum Hamming distance, the tiles
are the grid tiles in the permuted order, training lowers the loss on a fixed batch, and a pipeline
without the labels or a head of the wrong size is a clear error."""
from __future__ import annotations

import pickle

import pytest
import torch

from pretext_testutil import BACKBONE, batch, build_model, images, run_pipeline, train_losses

from fovea.data.transforms.pretext import grid_patches, jigsaw_permutations
from fovea.structures import SampleList
from fovea.utils.errors import ConfigError

CFG = dict(type='Jigsaw', backbone=BACKBONE,
           neck=dict(type='NonLinearNeck', in_channels=9 * 64, hid_channels=64, out_channels=64, norm_cfg=dict(type='BN')),
           head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
PIPELINE = [dict(type='RandomJigsawWithLabels', num_permutations=10, patch_jitter=5),
            dict(type='PackInputs', algorithm_keys=['jigsaw_label'])]


def test_permutations_are_valid_deterministic_and_far_apart():
    perms = jigsaw_permutations(100, 0)
    assert perms.shape == (100, 9)
    assert (perms.sort(1).values == torch.arange(9)).all()                  # each row a permutation
    assert len({tuple(p) for p in perms.tolist()}) == 100
    dist = (perms[:, None] != perms[None]).sum(-1)
    dist.fill_diagonal_(9)
    assert int(dist.min()) == 6                                             # greedy max-min, 100 of 9! : 6 apart
    jigsaw_permutations.cache_clear()
    assert torch.equal(jigsaw_permutations(100, 0), perms)                  # deterministic
    assert not torch.equal(jigsaw_permutations(100, 1), perms)
    with pytest.raises(ConfigError, match='choose 1 to 1000'):
        jigsaw_permutations(5000)


def test_tiles_follow_the_permutation():
    img = images(1, size=64)[0]
    out = run_pipeline([dict(type='RandomJigsawWithLabels', num_permutations=10, patch_jitter=5)], [img])[0]
    perm = jigsaw_permutations(10, 0)[out['jigsaw_label']]
    boxes = out['patch_box'].tolist()
    for k, tile in enumerate(out['img']):
        x1, y1, x2, y2 = boxes[int(perm[k])]
        assert torch.equal(tile, img[:, y1:y2, x1:x2])
    labels = {o['jigsaw_label'] for o in run_pipeline(PIPELINE[:1], [img] * 30)}
    assert len(labels) > 3 and labels <= set(range(10))


def test_training_lowers_the_loss():
    model = build_model(CFG)
    data = batch(model, PIPELINE, n=8, size=64)
    samples = pickle.loads(pickle.dumps(data['data_samples']))              # crosses from a loader worker
    assert isinstance(samples, SampleList) and [int(s.jigsaw_label) for s in samples] == \
        [int(s.jigsaw_label) for s in data['data_samples']]
    out = model.loss(data['inputs'], samples)
    assert torch.isfinite(out['loss'])
    losses = train_losses(model, data)
    assert losses[-1] < losses[0] - 0.05, losses


def test_bad_inputs_are_clear_errors():
    model = build_model(CFG)
    data = batch(model, [PIPELINE[0], dict(type='PackInputs')], n=2, size=64)
    with pytest.raises(ConfigError, match=r"algorithm_keys=\['jigsaw_label'\]"):
        model.loss(data['inputs'], data['data_samples'])
    big = build_model(dict(CFG, head=dict(type='LinearClsHead', num_classes=4, in_channels=64)))
    data = batch(big, PIPELINE, n=2, size=64)
    data['data_samples'][0].set_field(7, 'jigsaw_label')
    with pytest.raises(ConfigError, match='index 7 but the head has 4 classes.*num_permutations'):
        big.loss(data['inputs'], data['data_samples'])
    with pytest.raises(ConfigError, match='grid cells'):
        grid_patches(torch.zeros(3, 8, 8), 3)

"""RelativeLoc: the nine patches sit in their grid cells with gaps and are the image's pixels there,
training lowers the loss on a fixed batch, and sizes or widths that do not fit are clear errors."""
from __future__ import annotations

import pytest
import torch

from pretext_testutil import BACKBONE, batch, build_model, images, run_pipeline, train_losses

from fovea.models.necks.relative_loc_neck import RelativeLocNeck
from fovea.utils.errors import ConfigError

CFG = dict(type='RelativeLoc', backbone=BACKBONE, neck=dict(type='RelativeLocNeck', in_channels=64, out_channels=32),
           head=dict(type='LinearClsHead', num_classes=8, in_channels=32))
PIPELINE = [dict(type='RandomPatchWithLabels', patch_jitter=5), dict(type='PackInputs')]


def test_patches_are_jittered_grid_cells_with_gaps():
    img = images(1, size=64)[0]
    outs = run_pipeline([dict(type='RandomPatchWithLabels', patch_jitter=5)], [img] * 20)
    offsets = set()
    for out in outs:
        assert out['patch_label'].tolist() == list(range(8)) and out['img_shape'] == (16, 16)
        for k, (patch, (x1, y1, x2, y2)) in enumerate(zip(out['img'], out['patch_box'].tolist())):
            row, col = divmod(k, 3)
            assert (x2 - x1, y2 - y1) == (16, 16)
            assert col * 21 <= x1 <= col * 21 + 5 and row * 21 <= y1 <= row * 21 + 5     # inside its 21 px cell
            assert torch.equal(patch, img[:, y1:y2, x1:x2])
            offsets.add((x1 - col * 21, y1 - row * 21))
        boxes = out['patch_box']
        assert (boxes[1:3, 0] >= boxes[0:2, 2]).all()         # neighbours in a row never overlap
    assert len(offsets) > 10                                    # the jitter varies


def test_training_lowers_the_loss_and_pairs_are_neighbour_then_centre():
    model = build_model(CFG)
    data = batch(model, PIPELINE, n=4, size=64)
    assert len(data['inputs']) == 9 and data['inputs'][0].shape == (4, 3, 16, 16)
    seen = []
    model.neck.register_forward_hook(lambda m, args, out: seen.append(args[0][0]))
    out = model.eval().loss(data['inputs'])
    assert torch.isfinite(out['loss'])
    pairs = seen[0]
    assert pairs.shape[:2] == (32, 128)
    feats = model.backbone(data['inputs'][0])[-1]               # patch 0 (top-left) of each image
    centre = model.backbone(data['inputs'][4])[-1]
    torch.testing.assert_close(pairs[:4, :64], feats, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pairs[:4, 64:], centre, rtol=1e-4, atol=1e-5)
    losses = train_losses(model, data)
    assert losses[-1] < losses[0] - 0.05, losses


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match='32x32 image has 10x10 grid cells.*patch_jitter=21.*resize'):
        run_pipeline([dict(type='RandomPatchWithLabels')], images(1))
    with pytest.raises(ValueError, match='in_channels to the backbone'):
        RelativeLocNeck(in_channels=32, out_channels=8)((torch.randn(2, 128, 1, 1),))
    with pytest.raises(ConfigError, match='takes 9 views per image, the pipeline gives 4'):
        build_model(CFG).loss([torch.randn(2, 3, 16, 16)] * 4)

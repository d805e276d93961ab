"""SparK: sparse (masked) convolutions and norms see only the visible region, SparseResNet is a dense
ResNet outside a SparK forward, and the loss equals MMPretrain's on the same weights and seeded masks."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import build_model, mmpretrain_loss

from fovea.models.layers.sparse import SparseBatchNorm2d, SparseConv2d, active_region
from fovea.registry import MODELS, build

SPARK = dict(type='SparK', input_size=64, downsample_raito=32, mask_ratio=0.6, enc_dec_norm_dim=512,
             enc_dec_norm_cfg=dict(type='SparseSyncBatchNorm2d'),
             backbone=dict(type='SparseResNet', depth=18, out_indices=(0, 1, 2, 3)),
             neck=dict(type='SparKLightDecoder', feature_dim=128, upsample_ratio=32, mid_channels=0, last_act=False),
             head=dict(type='SparKPretrainHead', loss=dict(type='PixelReconstructionLoss', criterion='L2')))


def test_sparse_modules_act_on_the_visible_region_only():
    conv, bn = SparseConv2d(3, 4, 3, padding=1), SparseBatchNorm2d(4).train()
    x = torch.randn(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    mask[:, :, 0, 0] = True                                    # the top-left 4x4 quarter is visible
    with active_region(mask):
        y = conv(x)
        assert y[:, :, 4:].abs().sum() == 0 and y[:, :, :4, 4:].abs().sum() == 0 and y[:, :, :4, :4].abs().sum() > 0
        z = bn(y)
    visible = z[:, :, :4, :4].permute(1, 0, 2, 3).reshape(4, -1)
    torch.testing.assert_close(visible.mean(1), torch.zeros(4), atol=1e-5, rtol=0)   # statistics of visible cells
    assert z[:, :, 4:].abs().sum() == 0
    dense = build(dict(type='ResNet', depth=18, out_indices=(3,)), MODELS).eval()
    sparse = build(dict(type='SparseResNet', depth=18, out_indices=(3,)), MODELS).eval()
    sparse.load_state_dict(dense.state_dict())                 # same keys; dense outside a region
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(sparse(x)[0], dense(x)[0])


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(SPARK).train()
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(0)
    ours = model.loss(x)
    ref = mmpretrain_loss(SPARK, model.state_dict(), x, None, tmp_path)
    assert ours['loss'].item() == pytest.approx(ref['loss'], rel=1e-4, abs=1e-5)

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
    arch = dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64])
    dense = build(dict(type='ConvNeXt', arch=arch, out_indices=(3,), gap_before_final_norm=False), MODELS).eval()
    sparse = build(dict(type='SparseConvNeXt', arch=arch, out_indices=(3,), gap_before_output=False), MODELS).eval()
    missing, unexpected = sparse.load_state_dict(dense.state_dict(), strict=False)
    assert not missing and unexpected == ['norm3.weight', 'norm3.bias']
    torch.testing.assert_close(dense.norm3(sparse(x)[0]), dense(x)[0])


SPARK_CONVNEXT = dict(SPARK, enc_dec_norm_cfg=dict(type='SparseLN2d', eps=1e-6), enc_dec_norm_dim=64,
                      backbone=dict(type='SparseConvNeXt', arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
                                    out_indices=(0, 1, 2, 3), gap_before_output=False, layer_scale_init_value=0.,
                                    use_grn=True),
                      neck=dict(SPARK['neck'], feature_dim=32))


@pytest.mark.reference
@pytest.mark.parametrize('name', ['resnet', 'convnext'])
def test_loss_matches_mmpretrain(name, tmp_path):
    cfg = dict(resnet=SPARK, convnext=SPARK_CONVNEXT)[name]
    model = build_model(cfg).train()
    if name == 'convnext':                                     # non-zero GRN (it starts as an identity)
        with torch.no_grad():
            for n, p in model.backbone.named_parameters():
                if 'grn' in n:
                    p.normal_(0, 0.5)
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(0)
    ours = model.loss(x)
    ref = mmpretrain_loss(cfg, model.state_dict(), x, None, tmp_path)
    assert ours['loss'].item() == pytest.approx(ref['loss'], rel=1e-4, abs=1e-5)

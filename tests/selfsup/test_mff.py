"""MFF: the fused encoder output and its weights, and the loss against MMPretrain's on the same
weights and (seeded) random masks."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import TINY, build_model, mmpretrain_loss

MFF = dict(type='MFF',
           backbone=dict(type='MFFViT', arch=TINY, img_size=32, patch_size=8, out_indices=[0, 1]),
           neck=dict(type='MAEPretrainDecoder', num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16,
                     decoder_depth=1, decoder_num_heads=2),
           head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=8,
                     loss=dict(type='PixelReconstructionLoss', criterion='L2')))


def test_fused_output_and_weights():
    vit = build_model(MFF['backbone']).eval()
    with torch.no_grad():
        vit.proj_weights.copy_(torch.tensor([0., 2.]).view(-1, 1, 1, 1))
    latent, mask, ids_restore, weights = vit(torch.randn(2, 3, 32, 32))
    assert latent.shape == (2, 1 + 4, 32) and mask.shape == (2, 16) and mask.sum(1).tolist() == [12, 12]
    torch.testing.assert_close(weights, torch.softmax(torch.tensor([0., 2.]), 0))
    assert len(vit.proj_layers) == 1 and vit.proj_weights.requires_grad
    assert vit(torch.randn(2, 3, 32, 32), mask=None)[0].shape == (2, 17, 32)
    single = build_model(dict(MFF['backbone'], out_indices=[1]))
    assert len(single.proj_layers) == 0 and not single.proj_weights.requires_grad


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(MFF).train()
    with torch.no_grad():
        model.backbone.proj_weights.copy_(torch.tensor([0.3, -0.2]).view(-1, 1, 1, 1))
    x = torch.randn(3, 3, 32, 32)
    torch.manual_seed(0)
    ours = model.loss(x)
    ref = mmpretrain_loss(MFF, model.state_dict(), x, None, tmp_path)
    assert set(ours) == set(ref) == {'loss', 'weight_0', 'weight_1'}
    for k in ours:
        assert ours[k].item() == pytest.approx(ref[k], rel=1e-5, abs=1e-6)

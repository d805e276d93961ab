"""MixMIM: the backbone as a classifier (MMPretrain's parameter count is checked in tests/compat), the
mixing attention mask keeps each image's tokens apart, and the loss equals MMPretrain's on the same
weights and seeded masks."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import build_model, mmpretrain_loss

ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])
MIXMIM = dict(type='MixMIM',
              backbone=dict(type='MixMIMPretrainTransformer', arch=ARCH, img_size=64, window_size=[4, 4, 4, 2]),
              neck=dict(type='MixMIMPretrainDecoder', num_patches=4, encoder_stride=32, embed_dim=128,
                        decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
              head=dict(type='MixMIMPretrainHead', norm_pix=True,
                        loss=dict(type='PixelReconstructionLoss', criterion='L2')))


def test_mixed_images_do_not_attend_to_each_other():
    vit = build_model(MIXMIM['backbone']).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(0)
    tokens, mask = vit(x)
    assert tokens.shape == (2, 4, 128) and mask.shape == (1, 4, 1) and mask.sum() == 2
    attn = vit.layers[0].blocks[0].attn
    group = (torch.arange(16) >= 8).float().view(1, 16, 1)     # a 4x4 window, two groups of 8 tokens
    h = torch.randn(1, 16, 16)
    out = attn(h, mask=group)
    h2 = h.clone()
    h2[:, 8:] += 3.                                          # the other group's tokens change ...
    torch.testing.assert_close(attn(h2, mask=group)[:, :8], out[:, :8])   # ... and group 0 does not see it
    assert not torch.allclose(attn(h2)[:, :8], attn(h)[:, :8])
    assert vit(x, mask=None)[0].shape == (2, 128)


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(MIXMIM).train()
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(0)
    ours = model.loss(x)
    state = dict(model.state_dict())
    state.update({k: b for k, b in model.named_buffers() if k.endswith('relative_position_index')})
    ref = mmpretrain_loss(MIXMIM, state, x, None, tmp_path)
    assert ours['loss'].item() == pytest.approx(ref['loss'], rel=1e-5, abs=1e-6)

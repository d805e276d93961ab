"""MILAN: attention-guided masking keeps the patches CLIP attends to, the prompting decoder leaves the
visible tokens as they are, and the loss equals MMPretrain's on the same weights, targets and seeds."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import TINY, build_model, mmpretrain_loss

MILAN = dict(type='MILAN',
             backbone=dict(type='MILANViT', arch=TINY, img_size=32, patch_size=8, mask_ratio=0.75),
             neck=dict(type='MILANPretrainDecoder', num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16,
                       decoder_depth=1, decoder_num_heads=2, predict_feature_dim=16),
             head=dict(type='MIMHead', loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0)))


def _targets(n=3, seed=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 17, 16, generator=g), torch.rand(n, 17, 17, generator=g).softmax(-1)


def test_attention_masking_keeps_the_important_patches():
    vit = build_model(MILAN['backbone']).eval()
    importance = torch.full((2, 16), 1e-6)
    importance[:, :4] = 1.                                     # four patches carry all the weight
    latent, ids_restore, ids_keep, ids_dump = vit(torch.randn(2, 3, 32, 32), importance)
    assert latent.shape == (2, 1 + 4, 32) and ids_dump.shape == (2, 12)
    assert sorted(ids_keep[0].tolist()) == [0, 1, 2, 3] and sorted(ids_keep[1].tolist()) == [0, 1, 2, 3]
    assert vit(torch.randn(2, 3, 32, 32))[0].shape == (2, 17, 32)     # importance=None: the plain ViT


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(MILAN).train()
    x = torch.randn(3, 3, 32, 32)
    feats, attention = _targets()
    model.target_generator = lambda imgs: (feats, attention)
    torch.manual_seed(0)
    ours = model.loss(x)
    setup = "model.target_generator = lambda imgs: tuple(data['extra'])"
    ref = mmpretrain_loss(MILAN, model.state_dict(), x, None, tmp_path, setup=setup, extra=[feats, attention])
    assert ours['loss'].item() == pytest.approx(ref['loss'], rel=1e-5, abs=1e-6)

"""CAE: the encoder sees only visible patches, the loss equals MMPretrain's on the same weights,
views and masks, and the teacher follows the encoder after each optimizer step."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import TINY, build_model, mmpretrain_loss, samples_with_masks

from fovea.engine.optim_wrapper import OptimWrapper
from fovea.utils.errors import ConfigError

CAE = dict(type='CAE', base_momentum=0.5,
           backbone=dict(type='CAEPretrainViT', arch=TINY, img_size=32, patch_size=8, layer_scale_init_value=0.1),
           neck=dict(type='CAENeck', num_classes=16, embed_dims=32, num_heads=2, regressor_depth=1, decoder_depth=1,
                     mlp_ratio=2, layer_scale_init_value=0.1, mask_tokens_num=6),
           head=dict(type='CAEHead', loss=dict(type='CAELoss', lambd=2)),
           target_generator=dict(type='DALL-E', n_hid=8, vocab_size=16))


def _masks(n=3, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 16, dtype=torch.bool)
    for row in out:
        row[torch.randperm(16, generator=g)[:k]] = True
    return out.view(n, 4, 4)


def _views(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g), torch.rand(n, 3, 32, 32, generator=g)]


def test_encoder_sees_only_visible_patches():
    vit = build_model(CAE['backbone']).eval()
    x, mask = torch.randn(2, 3, 32, 32), (torch.arange(16) < 6).repeat(2, 1)   # patches 0-5 masked
    out = vit(x, mask)
    assert out.shape == (2, 1 + 10, 32)
    x2 = x.clone()
    x2[:, :, :8, :8] += 5                                              # patch 0: masked
    torch.testing.assert_close(vit(x2, mask), out)
    x2[:, :, -8:, -8:] += 5                                            # patch 15: visible
    assert not torch.allclose(vit(x2, mask), out)
    torch.testing.assert_close(vit.pos_embed[0, 0], torch.zeros(32))  # sin-cos table, zero cls row
    assert not vit.pos_embed.requires_grad and vit(x)[0].shape == (2, 17, 32)


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(CAE).train()
    with torch.no_grad():                       # a teacher that differs from the encoder
        for p in model.teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    views, masks = _views(), _masks()
    ours = model.loss(views, samples_with_masks(masks))
    ref = mmpretrain_loss(CAE, model.state_dict(), views, masks, tmp_path)
    assert set(ours) == set(ref) == {'loss', 'main', 'align'}
    for k in ours:
        assert ours[k].item() == pytest.approx(ref[k], rel=1e-5, abs=1e-5)


def test_teacher_follows_the_encoder_after_each_step():
    model = build_model(CAE).train()
    for t, s in zip(model.teacher.parameters(), model.backbone.parameters()):
        assert torch.equal(t, s) and not t.requires_grad
    teacher0 = [t.clone() for t in model.teacher.parameters()]
    ow = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5))
    views = [(v * 50 + 128).clamp(0, 255).to(torch.uint8) for v in _views()]
    log = model.train_step({'inputs': views, 'data_samples': samples_with_masks(_masks())}, ow)
    assert torch.isfinite(log['loss']) and set(log) >= {'loss', 'main', 'align'}
    moved = 0
    for t0, t, s in zip(teacher0, model.teacher.parameters(), model.backbone.parameters()):
        torch.testing.assert_close(t, 0.5 * t0 + 0.5 * s)             # base_momentum 0.5
        moved += not torch.equal(t, t0)
    assert moved


def test_mask_count_must_match_the_neck():
    model = build_model(CAE).train()
    with pytest.raises(ConfigError, match='mask_tokens_num'):
        model.loss(_views(), samples_with_masks(_masks(k=5)))

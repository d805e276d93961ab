"""EVA: the CLIP target's patch features (random weights; its projected class token is CLIP's image
embedding), the loss against MMPretrain's EVA on the same weights, targets and seeded masks, and a
tokenizer checkpoint that is not there is a clear error naming it."""
from __future__ import annotations

import pytest
import torch

from mim_testutil import TINY, build_model, mmpretrain_loss

from fovea.registry import MODELS, build

TINY_CLIP = dict(embed_dim=16, vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
EVA = dict(type='EVA',
           backbone=dict(type='MAEViT', arch=TINY, img_size=32, patch_size=8),
           neck=dict(type='MAEPretrainDecoder', num_patches=16, patch_size=8, embed_dim=32, decoder_embed_dim=16,
                     decoder_depth=1, decoder_num_heads=2, predict_feature_dim=16),
           head=dict(type='MIMHead', loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0)))


def test_clip_generator_gives_projected_patch_features():
    gen = build_model(dict(type='CLIPGenerator', arch=TINY_CLIP)).train()
    assert not gen.tokenizer.training and not any(p.requires_grad for p in gen.parameters())
    x = torch.randn(2, 3, 32, 32)
    feats, attention = gen(x)
    assert feats.shape == (2, 17, 16) and attention.shape == (2, 17, 17)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 17))
    gen.tokenizer.visual.out_type = 'cls_token'
    torch.testing.assert_close(feats[:, 0], gen.tokenizer.extract_image_feat(x))
    vit = gen.tokenizer.visual                                  # the last layer's attention, by hand
    h = vit._embed_tokens(*vit.patch_embed(x))
    last = vit.layers[-1]
    mha = torch.nn.MultiheadAttention(32, 2, batch_first=True)
    mha.in_proj_weight.data, mha.in_proj_bias.data = last.attn.qkv.weight.data, last.attn.qkv.bias.data
    h = last.ln1(h)
    torch.testing.assert_close(attention, mha(h, h, h, need_weights=True)[1])


def test_missing_tokenizer_checkpoint_is_named(tmp_path):
    missing = tmp_path / 'clip_vit_base_16.pth.tar'
    gen = build(dict(type='CLIPGenerator', arch=TINY_CLIP, tokenizer_path=str(missing)), MODELS)  # builds offline
    with pytest.raises(Exception, match='clip_vit_base_16.pth.tar'):
        gen.init_weights()


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    model = build_model(EVA).train()
    x = torch.randn(3, 3, 32, 32)
    target = torch.randn(3, 17, 16)
    model.target_generator = lambda imgs: (target, None)
    torch.manual_seed(0)
    ours = model.loss(x)
    setup = "model.target_generator = lambda imgs: (data['extra'], None)"
    ref = mmpretrain_loss(EVA, model.state_dict(), x, None, tmp_path, setup=setup, extra=target)
    assert ours['loss'].item() == pytest.approx(ref['loss'], rel=1e-5, abs=1e-6)

"""BEiT v1 / v2: BEiT's ViT equals MMPretrain's on the same weights, the pre-training ViT's masked
forward, the two tokenizers' outputs (DALL-E, VQ-KD), the two-view crop and normalisation, and the
losses against MMPretrain's implementation on the same weights, views and masks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mim_testutil import TINY, build_model, mmpretrain_loss, samples_with_masks

from fovea.registry import MODELS, TRANSFORMS, build
from fovea.utils.errors import ConfigError

PRETRAIN_VIT = dict(type='BEiTPretrainViT', arch=TINY, img_size=32, patch_size=8)
DALLE = dict(type='DALL-E', n_hid=8, vocab_size=16)
VQKD_ENC = dict(arch=TINY, img_size=32, patch_size=8, out_type='featmap', use_abs_pos_emb=True,
                use_rel_pos_bias=False, layer_scale_init_value=0., final_norm=True)
V1 = dict(type='BEiT', backbone=PRETRAIN_VIT, neck=None, target_generator=DALLE,
          head=dict(type='BEiTV1Head', embed_dims=32, num_embed=16, loss=dict(type='CrossEntropyLoss')))
V2 = dict(type='BEiT', backbone=dict(PRETRAIN_VIT, out_indices=[0, 1], final_norm=False),
          neck=dict(type='BEiTV2Neck', num_layers=1, early_layers=1, backbone_arch=dict(TINY, depth=2)),
          head=dict(type='BEiTV2Head', embed_dims=32, num_embed=16, loss=dict(type='CrossEntropyLoss')),
          target_generator=dict(type='VQKD', encoder_config=VQKD_ENC, num_embed=16, embed_dims=8,
                                quantize_kmeans_init=False))


def _masks(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 4, 4, generator=g) < 0.4


def _views(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g), torch.rand(n, 3, 32, 32, generator=g)]


def _randomise(model):
    """Non-zero biases and tables (the default init leaves them zero, which would hide mix-ups)."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'bias' in name or 'gamma' in name or 'token' in name or 'pos_embed' in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


@pytest.mark.reference
def test_beitvit_matches_mmpretrain(tmp_path):
    # per-layer tables, an absolute position embedding, a full qkv bias and the final norm at once
    # (the shared table and q/v biases are checked through the BEiT losses below)
    cfg = dict(type='BEiTViT', arch=TINY, img_size=32, patch_size=8, out_indices=[0, 1], out_type='raw',
               use_abs_pos_emb=True, bias=True, final_norm=True)
    model = build_model(cfg)
    _randomise(model)
    x = _views()[0]
    ours = model.eval()(x)
    # MMPretrain's backbone as a "loss": the sum of each output's weighted entries
    w = torch.randn(ours[0].shape, generator=torch.Generator().manual_seed(5))
    setup = f'''
w = torch.randn({tuple(ours[0].shape)}, generator=torch.Generator().manual_seed(5))
model.eval()
model.loss = lambda inputs, samples: {{f'out{{i}}': (o * w).sum() for i, o in enumerate(model(inputs[0]))}}
'''
    ref = mmpretrain_loss(cfg, model.state_dict(), [x], None, tmp_path, setup)
    for i, o in enumerate(ours):
        assert (o * w).sum().item() == pytest.approx(ref[f'out{i}'], rel=1e-5, abs=1e-4)


def test_pretrain_vit_masked_forward():
    vit = build_model(PRETRAIN_VIT).eval()
    x = torch.randn(2, 3, 32, 32)
    mask = _masks(2)
    (out,) = vit(x, mask)
    assert out.shape == (2, 17, 32)                      # class token + 4x4 patches, raw tokens
    full = torch.ones(2, 4, 4, dtype=torch.bool)         # every patch masked: the image no longer matters
    torch.testing.assert_close(vit(x, full)[0], vit(torch.randn(2, 3, 32, 32), full)[0])
    assert not torch.allclose(vit(x, mask)[0], vit(x, None)[0])
    assert vit(x)[0].shape == (2, 17, 32)                # mask=None: BEiTViT's own output ('raw')


def test_tokenizers_output_shapes_and_codes():
    dalle = build_model(DALLE)
    assert dalle(torch.rand(2, 3, 32, 48)).shape == (2, 16, 4, 6)
    assert not any(p.requires_grad for p in dalle.parameters())
    vqkd = build_model(dict(type='VQKD', encoder_config=VQKD_ENC, num_embed=16, embed_dims=8)).eval()
    assert vqkd.quantize.embedding.initted.item() == 0          # kmeans_init: set on the first batch
    tokens = vqkd(torch.randn(3, 3, 32, 32))
    assert tokens.shape == (3, 16) and tokens.dtype == torch.long and 0 <= tokens.min() and tokens.max() < 16
    assert vqkd.quantize.embedding.initted.item() == 1
    codes = vqkd.quantize.embedding.weight
    torch.testing.assert_close(codes.norm(dim=1), torch.ones(16))
    assert len(tokens.unique()) > 1


@pytest.mark.reference
@pytest.mark.parametrize('name', ['v1', 'v2'])
def test_loss_matches_mmpretrain(name, tmp_path):
    cfg = dict(V1=V1, V2=V2)[name.upper()]
    model = build_model(cfg).train()
    _randomise(model.backbone)
    views, masks = _views(), _masks()
    ours = model.loss(views, samples_with_masks(masks))
    ref = mmpretrain_loss(cfg, model.state_dict(), views, masks, tmp_path)
    assert set(ours) == set(ref)
    for k in ours:
        assert ours[k].item() == pytest.approx(ref[k], rel=1e-5, abs=1e-5)


def test_loss_trains_and_needs_masks():
    model = build_model(V2).train()
    views, samples = _views(), samples_with_masks(_masks())
    losses = model.loss(views, samples)
    assert set(losses) == {'loss_1', 'loss_2'} and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.mask_token.grad is not None and model.neck.patch_aggregation[0].gamma_1.grad is not None
    assert all(p.grad is None for p in model.target_generator.parameters())
    with pytest.raises(ConfigError, match='BEiTMaskGenerator'):
        model.loss(views, None)


def test_shared_table_loads_into_per_layer_tables():
    pre = build_model(dict(PRETRAIN_VIT, out_type='avg_featmap'))
    _randomise(pre)
    ft = build(dict(type='BEiTViT', arch=TINY, img_size=32, patch_size=8), MODELS)
    sd = {k: v for k, v in pre.state_dict().items() if k != 'mask_token'}
    ft.load_state_dict(sd, strict=False)
    for layer in ft.layers:
        torch.testing.assert_close(layer.attn.relative_position_bias_table, pre.rel_pos_bias.relative_position_bias_table)
    big = build(dict(type='BEiTViT', arch=TINY, img_size=48, patch_size=8), MODELS)   # 6x6 grid: tables resized
    big.load_state_dict(ft.state_dict())
    assert big.layers[0].attn.relative_position_bias_table.shape == (11 * 11 + 3, 2)
    torch.testing.assert_close(big.layers[0].attn.relative_position_bias_table[-3:],
                               ft.layers[0].attn.relative_position_bias_table[-3:])


def test_two_pic_crop_and_two_norm_preprocessor():
    t = build(dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=32, second_size=16,
                   interpolation='random', second_interpolation='lanczos', scale=(0.2, 1.0)), TRANSFORMS)
    np.random.seed(0)
    img = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8)
    out = t({'img': img, 'img_shape': (40, 50)})
    assert [tuple(i.shape) for i in out['img']] == [(3, 32, 32), (3, 16, 16)] and out['img_shape'] == (32, 32)
    one = build(dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=24), TRANSFORMS)({'img': img})
    assert one['img'].shape == (3, 24, 24)
    pre = build(dict(type='TwoNormDataPreprocessor', mean=[10.] * 3, std=[2.] * 3, second_mean=[-31.875] * 3,
                     second_std=[318.75] * 3), MODELS)
    a, b = torch.full((1, 3, 4, 4), 20, dtype=torch.uint8), torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    data = pre({'inputs': [a, b], 'data_samples': None})
    assert data['inputs'][0].unique().tolist() == [5.] and data['inputs'][1].unique().item() == pytest.approx(0.9)
    with pytest.raises(ConfigError, match='second_mean'):
        build(dict(type='TwoNormDataPreprocessor', mean=[0.] * 3, std=[1.] * 3), MODELS)

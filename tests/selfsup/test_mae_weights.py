"""Weights MAE users have: official MAE checkpoints (``model`` with timm ViT names, with and without
the pre-training decoder) and timm's ``.mae`` ViTs load into MAE / MAEViT / VisionTransformer /
a classifier's backbone, detected from the keys; converted models compute what the originals do."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fovea.models.weights import load_weights
from fovea.registry import MODELS, build

timm = pytest.importorskip('timm')
from timm.models.vision_transformer import Block, VisionTransformer as TimmViT  # noqa: E402

DIM, DEPTH, HEADS, DEC = 64, 2, 2, 32
ARCH = dict(embed_dims=DIM, num_layers=DEPTH, num_heads=HEADS, feedforward_channels=4 * DIM)
MAE_CFG = dict(type='MAE', backbone=dict(type='MAEViT', arch=ARCH, img_size=32, patch_size=4),
               neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4, embed_dim=DIM, decoder_embed_dim=DEC,
                         decoder_depth=2, decoder_num_heads=2),
               head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
                         loss=dict(type='PixelReconstructionLoss', criterion='L2')))


class OfficialDecoder(nn.Module):
    """facebookresearch/mae's decoder, with its parameter names (built from timm's Block)."""

    def __init__(self):
        super().__init__()
        self.decoder_embed = nn.Linear(DIM, DEC)
        self.mask_token = nn.Parameter(torch.randn(1, 1, DEC))
        self.decoder_pos_embed = nn.Parameter(torch.randn(1, 65, DEC))
        self.decoder_blocks = nn.ModuleList([Block(DEC, 2, qkv_bias=True) for _ in range(2)])
        self.decoder_norm = nn.LayerNorm(DEC, eps=1e-6)
        self.decoder_pred = nn.Linear(DEC, 4 * 4 * 3)

    def forward(self, x, ids_restore):          # the official forward_decoder
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]


def _official(with_decoder=True):
    torch.manual_seed(1)
    enc = TimmViT(img_size=32, patch_size=4, embed_dim=DIM, depth=DEPTH, num_heads=HEADS, num_classes=0)
    for p in enc.parameters():                     # nothing at its init value: every tensor must really load
        nn.init.normal_(p, std=0.05)
    sd = dict(enc.state_dict())
    dec = OfficialDecoder()
    for p in dec.parameters():
        nn.init.normal_(p, std=0.05)
    if with_decoder:
        sd.update(dec.state_dict())
    return {'model': sd}, enc.eval(), dec.eval()


def test_official_checkpoint_with_decoder_loads_into_mae_and_matches():
    ckpt, enc, dec = _official()
    model = build(MAE_CFG, MODELS).eval()
    report = load_weights(model, ckpt, require_all=True)
    assert report.source == 'mae' and not report.missing and not report.unexpected
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x, mask=None)[0], enc.forward_features(x), atol=1e-5, rtol=1e-4)
        torch.manual_seed(3)
        latent, mask, ids = model.backbone(x)
        torch.testing.assert_close(model.neck(latent, ids), dec(latent, ids), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('with_decoder', [True, False])
def test_official_checkpoint_gives_the_backbone_alone(with_decoder, tmp_path):
    ckpt, enc, _ = _official(with_decoder)
    torch.save(ckpt, tmp_path / 'mae_pretrain.pth')
    vit = build(dict(type='VisionTransformer', arch=ARCH, img_size=32, patch_size=4, out_type='raw'), MODELS).eval()
    report = load_weights(vit, tmp_path / 'mae_pretrain.pth', require_all=True)
    assert not report.missing and not report.unexpected          # the decoder is left out, silently
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(vit(x)[0], enc.forward_features(x), atol=1e-5, rtol=1e-4)
    clf = build(dict(type='ImageClassifier', backbone=dict(type='VisionTransformer', arch=ARCH, img_size=32, patch_size=4),
                     head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=DIM)), MODELS)
    report = load_weights(clf, tmp_path / 'mae_pretrain.pth')
    assert all(k.startswith('head.') for k in report.missing) and not report.unexpected
    assert torch.equal(clf.backbone.layers[0].attn.qkv.weight, ckpt['model']['blocks.0.attn.qkv.weight'])


@pytest.mark.reference
def test_timm_mae_vit_base_matches_within_1e4():
    torch.manual_seed(0)
    ref = timm.create_model('vit_base_patch16_224.mae', pretrained=False).eval()
    sd = ref.state_dict()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = ref.forward_features(x)
        for cfg in (dict(type='VisionTransformer', arch='b', out_type='raw'), dict(type='MAEViT', arch='b')):
            model = build(cfg, MODELS).eval()
            report = load_weights(model, sd, require_all=True)
            assert report.source == 'timm'
            out = model(x)[0] if cfg['type'] == 'VisionTransformer' else model(x, mask=None)[0]
            assert (out - expected).abs().max() < 1e-4

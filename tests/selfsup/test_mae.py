"""MAE: masking, fixed sin-cos position embeddings, patch (un)folding, PixelReconstructionLoss, and
the loss against MMPretrain's on the same weights and masks."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from fovea.models.heads.mae_head import patchify, unpatchify
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.models.losses.reconstruction_loss import PixelReconstructionLoss
from fovea.models.selfsup.mae import random_masking
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

REF_PYTHON = Path('/work/refvenv/bin/python')
ARCH = dict(embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128)
CFG = dict(type='MAE', backbone=dict(type='MAEViT', arch=ARCH, img_size=32, patch_size=4, mask_ratio=0.75),
           neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4, embed_dim=64, decoder_embed_dim=32,
                     decoder_depth=2, decoder_num_heads=2),
           head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
                     loss=dict(type='PixelReconstructionLoss', criterion='L2')),
           init_cfg=[dict(type='Xavier', layer='Linear', distribution='uniform'),
                     dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)])


def _model(**head):
    torch.manual_seed(0)
    model = build(dict(CFG, head=dict(CFG['head'], **head)), MODELS)
    model.init_weights()
    return model


def test_random_masking_keeps_a_quarter_and_restores_the_order():
    x = torch.arange(2 * 16, dtype=torch.float).view(2, 16, 1).expand(-1, -1, 3)
    kept, mask, ids_restore = random_masking(x, 0.75)
    assert kept.shape == (2, 4, 3) and mask.shape == (2, 16)
    assert mask.sum(1).tolist() == [12, 12]
    # the kept tokens are exactly the unmasked positions
    for b in range(2):
        assert sorted(kept[b, :, 0].tolist()) == x[b, mask[b] == 0, 0].tolist()
    # ids_restore undoes the shuffle: kept + removed, gathered back, is the input
    removed = torch.stack([x[b, mask[b] == 1] for b in range(2)])
    order = torch.argsort(torch.argsort(ids_restore, 1), 1)
    assert torch.equal(order, ids_restore)
    assert kept.shape[1] + removed.shape[1] == 16


def test_backbone_outputs_and_frozen_sincos_position_embedding():
    model = _model()
    bb = model.backbone
    assert not bb.pos_embed.requires_grad and not model.neck.decoder_pos_embed.requires_grad
    torch.testing.assert_close(bb.pos_embed.data, build_2d_sincos_position_embedding(8, 64, cls_token=True))
    torch.testing.assert_close(model.neck.decoder_pos_embed.data, build_2d_sincos_position_embedding(8, 32, cls_token=True))
    latent, mask, ids = bb(torch.randn(3, 3, 32, 32))
    assert latent.shape == (3, 1 + 16, 64) and mask.shape == (3, 64) and ids.shape == (3, 64)
    full = bb(torch.randn(3, 3, 32, 32), mask=None)
    assert isinstance(full, tuple) and full[0].shape == (3, 65, 64)          # out_type 'raw'
    assert model.predict(torch.randn(2, 3, 32, 32))[0].feats.shape == (64,)


def test_knn_features_are_the_unmasked_encoding():
    from fovea.evaluation.knn import extract_features
    from fovea.structures import DataSample
    model = _model()
    x = torch.randn(3, 3, 32, 32)
    batch = {'inputs': x, 'data_samples': [DataSample().set_gt_label(i) for i in range(3)]}
    f1, _ = extract_features(model, [batch])
    f2, _ = extract_features(model, [batch])          # masking is random: equal features mean no masking
    torch.testing.assert_close(f1, f2)
    seen = model.data_preprocessor(batch)['inputs']
    torch.testing.assert_close(f1, model.backbone(seen, mask=None)[0].mean(1))


def test_patchify_round_trip_and_layout():
    imgs = torch.randn(2, 3, 8, 12)
    p = patchify(imgs, 4)
    assert p.shape == (2, 6, 48)
    # patch 1 is the second patch of the first row, flattened (row, column, channel)
    torch.testing.assert_close(p[0, 1], imgs[0, :, 0:4, 4:8].permute(1, 2, 0).flatten())
    torch.testing.assert_close(unpatchify(p, 4, (2, 3)), imgs)


def test_pixel_reconstruction_loss():
    pred, target = torch.zeros(2, 4, 5), torch.ones(2, 4, 5) * 2
    mask = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=torch.float)
    assert PixelReconstructionLoss('L2')(pred, target, mask).item() == pytest.approx(4.0)
    assert PixelReconstructionLoss('L1')(pred, target).item() == pytest.approx(2.0)
    target[0, 1] = 100                                    # unmasked patches do not count
    assert PixelReconstructionLoss('L1')(pred, target, mask).item() == pytest.approx(2.0)
    # image-shaped inputs (SimMIM): mask (B, 1, H, W), averaged per channel
    img_mask = torch.zeros(1, 1, 4, 4)
    img_mask[..., :2, :] = 1
    loss = PixelReconstructionLoss('L1', channel=3)(torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4), img_mask)
    assert loss.item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="'L1' or 'L2'"):
        PixelReconstructionLoss('L3')


def test_norm_pix_target_and_denormalize():
    head = _model().head
    imgs = torch.randn(2, 3, 32, 32) * 3 + 1
    target = head.construct_target(imgs)
    assert target.mean(-1).abs().max() < 1e-4
    torch.testing.assert_close(head.denormalize(target, imgs), patchify(imgs, 4), atol=1e-3, rtol=1e-4)


def test_training_lowers_the_loss_on_a_fixed_batch():
    model = _model().train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    x = torch.randn(8, 3, 32, 32)
    losses = []
    for _ in range(15):
        torch.manual_seed(1)                     # the same masks every step
        loss = model.loss(x)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_bad_input_is_a_clear_error():
    model = _model()
    with pytest.raises(ConfigError, match='remove MultiView'):
        model.loss([torch.randn(2, 3, 32, 32)] * 2)
    with pytest.raises(ConfigError, match=r'model.neck.num_patches.*= 16'):
        model.loss(torch.randn(2, 3, 16, 16))
    with pytest.raises(ConfigError, match='mask_ratio'):
        build(dict(CFG['backbone'], mask_ratio=1.0), MODELS)


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    models = {norm_pix: _model(norm_pix=norm_pix).train() for norm_pix in (True, False)}
    cfgs = {norm_pix: dict(CFG, head=dict(CFG['head'], norm_pix=norm_pix)) for norm_pix in (True, False)}
    torch.save({'state_dicts': {k: m.state_dict() for k, m in models.items()}, 'x': x}, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
data = torch.load({str(tmp_path / 'in.pth')!r})
out = []
for norm_pix in (True, False):
    cfg = json.loads({json.dumps(json.dumps(cfgs[True]))})
    cfg['head']['norm_pix'] = norm_pix
    model = MODELS.build(cfg).train()
    model.load_state_dict(data['state_dicts'][norm_pix], strict=True)
    torch.manual_seed(5)
    out.append(model.loss(data['x'], None)['loss'].item())
print(json.dumps(out))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    for norm_pix, expected in zip((True, False), ref):
        torch.manual_seed(5)
        assert models[norm_pix].loss(x)['loss'].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)

"""MoCo v3: MoCoV3ViT (fixed sin-cos position embedding, frozen random patch projection, MMPretrain's
freezing), the symmetrised contrastive loss against its definition and against MMPretrain on the
same weights, the cosine momentum encoder, every shipped config training one step, and the loss and
gradients of 2 processes equal to one process on the global batch."""
from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from dist_testutil import check_ddp_matches_one_process, free_port
from selfsup_testutil import train_step_of_config

from fovea.config import Config
from fovea.models.layers.position_encoding import build_2d_sincos_position_embedding
from fovea.registry import MODELS, build

REF_PYTHON = Path('/work/refvenv/bin/python')
TINY_VIT = dict(type='MoCoV3ViT', arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
                img_size=32, patch_size=8, stop_grad_conv1=True)
BN1D = dict(type='BN1d')
CFG = dict(type='MoCoV3', base_momentum=0.01, backbone=TINY_VIT,
           neck=dict(type='NonLinearNeck', in_channels=32, hid_channels=64, out_channels=16, num_layers=3,
                     with_bias=False, with_last_bn=True, with_last_bn_affine=False, with_last_bias=False,
                     with_avg_pool=False, norm_cfg=BN1D),
           head=dict(type='MoCoV3Head',
                     predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=64, out_channels=16,
                                    num_layers=2, with_bias=False, with_last_bn=True, with_last_bn_affine=False,
                                    with_last_bias=False, with_avg_pool=False, norm_cfg=BN1D),
                     loss=dict(type='CrossEntropyLoss', loss_weight=2 * 0.2), temperature=0.2))


def _model(cfg=CFG):
    torch.manual_seed(0)
    model = build(cfg, MODELS)
    model.init_weights()
    return model


def _views(n=8, seed=1, size=32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def test_sincos_table_follows_its_formula():
    table = build_2d_sincos_position_embedding((3, 3), 8, cls_token=True)
    assert table.shape == (1, 10, 8) and not table[0, 0].any()
    omega = 1. / 10000 ** (torch.arange(2) / 2)
    for t in range(9):
        a, b = t // 3, t % 3                 # row-major token t; MoCo v3's meshgrid(w, h) order
        expected = torch.cat([(a * omega).sin(), (a * omega).cos(), (b * omega).sin(), (b * omega).cos()])
        torch.testing.assert_close(table[0, 1 + t], expected)


def test_vit_position_embedding_is_fixed_and_patch_projection_frozen():
    vit = build(TINY_VIT, MODELS)
    vit.init_weights()
    torch.testing.assert_close(vit.pos_embed.data, build_2d_sincos_position_embedding((4, 4), 32, cls_token=True))
    trainable = {n for n, p in vit.named_parameters() if p.requires_grad}
    assert not {'pos_embed', 'patch_embed.projection.weight', 'patch_embed.projection.bias'} & trainable
    assert 'cls_token' in trainable and 'layers.0.attn.qkv.weight' in trainable
    assert vit.cls_token.abs().max() < 1e-4 and not vit.layers[0].attn.qkv.bias.any()
    vit(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert vit.patch_embed.projection.weight.grad is None and vit.cls_token.grad is not None
    # a checkpoint-loading backbone keeps a learnable table (MMPretrain: the checkpoint's values)
    loaded = build(dict(TINY_VIT, stop_grad_conv1=False, init_cfg=dict(type='Pretrained', checkpoint='x.pth')), MODELS)
    assert loaded.pos_embed.requires_grad and loaded.patch_embed.projection.weight.requires_grad


def test_vit_freezing_as_mmpretrain():
    vit = build(dict(TINY_VIT, stop_grad_conv1=False, frozen_stages=0), MODELS).train()
    frozen = {n for n, p in vit.named_parameters() if not p.requires_grad}
    assert frozen == {'cls_token', 'pos_embed', 'patch_embed.projection.weight', 'patch_embed.projection.bias'}
    vit = build(dict(TINY_VIT, frozen_stages=2), MODELS).train()       # all layers: the final norm too
    assert not any(p.requires_grad for p in vit.parameters())
    assert not vit.layers[1].training
    vit = build(dict(TINY_VIT, frozen_stages=1), MODELS).train()
    assert all(p.requires_grad for p in vit.layers[1].parameters()) and not any(
        p.requires_grad for p in vit.layers[0].parameters())
    n = sum(p.numel() for p in build(dict(type='MoCoV3ViT', arch='mocov3-small', patch_size=16), MODELS,
                                     ).parameters())
    assert n == 21_665_664                   # 384 wide, 12 layers (MMPretrain's 'mocov3-small')
    with pytest.raises(Exception, match='not in default archs'):
        build(dict(type='VisionTransformer', arch='mocov3-small'), MODELS)   # the arch stays MoCo v3's


def test_loss_is_the_symmetrised_contrastive_loss():
    model = _model().train()
    v1, v2 = _views()
    loss = model.loss([v1, v2])['loss']

    def q(v):
        return F.normalize(model.head.predictor(model.neck(model.backbone(v)))[0], dim=1)

    def k(v):
        return F.normalize(model.momentum_encoder(v)[0], dim=1)

    def ctr(a, b):                          # MoCo v3: CE(q . k / tau) * 2 tau
        return F.cross_entropy(a @ b.t() / 0.2, torch.arange(len(a))) * 2 * 0.2
    with torch.no_grad():
        expected = ctr(q(v1), k(v2)) + ctr(q(v2), k(v1))
    torch.testing.assert_close(loss.detach(), expected)


def test_momentum_encoder_copies_then_follows_a_cosine():
    model = _model().train()
    online = nn.Sequential(model.backbone, model.neck)
    model.loss(_views())
    for p, m in zip(online.parameters(), model.momentum_encoder.module.parameters()):
        assert torch.equal(p, m)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    before = [m.clone() for m in model.momentum_encoder.module.parameters()]
    model.after_optimizer_step(1, 4)
    m_t = 0.01 * (math.cos(math.pi * 1 / 4) + 1) / 2           # MMPretrain's CosineEMA at step 1 of 4
    for p, m, b in zip(online.parameters(), model.momentum_encoder.module.parameters(), before):
        torch.testing.assert_close(m, b * (1 - m_t) + p * m_t)
    assert model.momentum_encoder.max_iters == 4


SHIPPED = ['mocov3_resnet18_cifar10',
           pytest.param('mocov3_resnet50_8xb512-amp-coslr-100e_in1k', marks=pytest.mark.slow),
           pytest.param('mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k', marks=pytest.mark.slow),
           pytest.param('mocov3_resnet50_8xb512-amp-coslr-300e_in1k', marks=pytest.mark.slow),
           pytest.param('mocov3_resnet50_8xb512-amp-coslr-800e_in1k', marks=pytest.mark.slow),
           pytest.param('mocov3_vit-base-p16_16xb256-amp-coslr-300e_in1k', marks=pytest.mark.slow),
           pytest.param('mocov3_vit-large-p16_64xb64-amp-coslr-300e_in1k', marks=pytest.mark.slow)]


@pytest.mark.parametrize('name', SHIPPED)
def test_config_trains_one_step_with_a_finite_loss(name):
    cfg = Config.fromfile(name)
    model_cfg = cfg.model_cfg()
    if model_cfg['backbone']['type'] == 'MoCoV3ViT':
        model_cfg['backbone']['img_size'] = 32                  # a 2x2 patch grid keeps the step cheap
    views = [torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    model, log = train_step_of_config(cfg, model_cfg, views)
    assert math.isfinite(float(log['loss']))
    assert int(model.momentum_encoder.steps) == 2              # copied at the step, averaged after it
    online = nn.Sequential(model.backbone, model.neck).state_dict()
    momentum = model.momentum_encoder.module.state_dict()
    assert not all(torch.equal(online[k], v) for k, v in momentum.items())   # averaged, not a copy


def _dist_worker(rank, world, port):
    model = _model().eval()                                 # eval: BN statistics do not depend on the split
    views = _views(8)
    model.loss(views)                                       # the first call copies the momentum encoder
    check_ddp_matches_one_process(model, views, rank, world, port)


@pytest.mark.slow
def test_two_processes_give_the_loss_and_gradients_of_one_process_on_the_global_batch():
    mp.spawn(_dist_worker, args=(2, free_port()), nprocs=2, join=True)


@pytest.mark.reference
def test_loss_and_position_embedding_match_mmpretrain(tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    model = _model().train()
    views = _views()
    torch.save({'state_dict': model.state_dict(), 'views': views}, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.utils import register_all_modules
register_all_modules()
model = MODELS.build(json.loads({json.dumps(json.dumps(CFG))})).train()
data = torch.load({str(tmp_path / 'in.pth')!r})
model.load_state_dict(data['state_dict'], strict=True)
torch.save(build_2d_sincos_position_embedding((5, 3), 16, cls_token=True), {str(tmp_path / 'pos.pth')!r})
print(json.dumps(model.loss(data['views'], None)['loss'].item()))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    assert model.loss(views)['loss'].item() == pytest.approx(ref, rel=1e-5, abs=1e-5)
    torch.testing.assert_close(build_2d_sincos_position_embedding((5, 3), 16, cls_token=True),
                               torch.load(tmp_path / 'pos.pth'))

"""DINO: the loss equals the paper's formula on fixed inputs, the center follows its EMA after each
optimizer step, the teacher moves after a step and equals the momentum average of the student
(which MMPretrain's project never updates), the teacher temperature warmup, the weight-normed last
layer, multi-crop views, and the shipped configs training one step."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from dist_testutil import check_ddp_matches_one_process, free_port
from selfsup_testutil import train_step_of_config

from fovea.config import Config
from fovea.engine.dino_hook import DINOTeacherTempWarmupHook
from fovea.registry import MODELS, TRANSFORMS, build
from fovea.utils.errors import ConfigError

TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
CFG = dict(type='DINO', base_momentum=0.1,
           backbone=dict(type='VisionTransformer', arch=TINY_ARCH, img_size=32, patch_size=8, drop_path_rate=0.1),
           neck=dict(type='DINONeck', in_channels=32, hidden_channels=64, bottleneck_channels=16, out_channels=128),
           head=dict(type='DINOHead', out_channels=128, num_crops=4, student_temp=0.1, center_momentum=0.9,
                     teacher_temp=0.04))


def _model():
    torch.manual_seed(0)
    model = build(CFG, MODELS)
    model.init_weights()
    return model


def _crops(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, s, s, generator=g) for s in (32, 32, 16, 16)]


def test_loss_is_the_papers_cross_entropy_over_crop_pairs():
    head = build(dict(type='DINOHead', out_channels=6, num_crops=3, student_temp=0.1, teacher_temp=0.05), MODELS)
    head.center.copy_(torch.randn(1, 6))
    torch.manual_seed(0)
    n = 5
    s, t = torch.randn(3 * n, 6), torch.randn(2 * n, 6)
    total, pairs = 0., 0
    for i in range(2):                       # global crops seen by the teacher
        for j in range(3):                   # every crop seen by the student, but the same one
            if i == j:
                continue
            for b in range(n):
                p_t = torch.softmax((t[i * n + b] - head.center[0]) / 0.05, 0)
                log_p_s = torch.log(torch.softmax(s[j * n + b] / 0.1, 0))
                total += -(p_t * log_p_s).sum() / n
            pairs += 1
    torch.testing.assert_close(head.loss(s, t), total / pairs)


def test_center_follows_its_ema_after_each_optimizer_step():
    head = build(dict(type='DINOHead', out_channels=4, num_crops=2), MODELS)
    c0 = torch.randn(1, 4)
    head.center.copy_(c0)
    t1, t2 = torch.randn(6, 4), torch.randn(6, 4)
    head.loss(torch.randn(6, 4), t1)
    torch.testing.assert_close(head.center, c0)           # unchanged until the optimizer step
    head.loss(torch.randn(6, 4), t2)                      # a second micro-step (accumulation)
    head.update_center()
    c1 = 0.9 * c0 + 0.1 * t1.mean(0, keepdim=True)
    torch.testing.assert_close(head.center, 0.9 * c1 + 0.1 * t2.mean(0, keepdim=True))
    head.update_center()                                  # nothing pending: no change
    torch.testing.assert_close(head.center, 0.9 * c1 + 0.1 * t2.mean(0, keepdim=True))


def test_teacher_moves_after_a_step_and_is_the_momentum_average_of_the_student():
    model = _model().train()
    student = nn.Sequential(model.backbone, model.neck)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    loss = model.loss(_crops())['loss']
    for p, q in zip(student.parameters(), model.teacher.module.parameters()):
        assert torch.equal(p, q)                          # the first step copies
    before = [q.clone() for q in model.teacher.module.parameters()]
    opt.zero_grad()
    loss.backward()
    opt.step()
    center_before = model.head.center.clone()
    model.after_optimizer_step(1, 10)
    m = 0.1 * (math.cos(math.pi * 1 / 10) + 1) / 2       # base_momentum along the cosine, step 1 of 10
    moved = 0
    for p, q, b in zip(student.parameters(), model.teacher.module.parameters(), before):
        torch.testing.assert_close(q, (1 - m) * b + m * p)
        moved += not torch.equal(q, b)
    assert moved > 10
    assert not torch.equal(model.head.center, center_before)
    assert model.teacher.max_iters == 10
    # the teacher runs without stochastic depth; the student keeps it
    assert all(m.drop_prob == 0 for m in model.teacher.modules() if hasattr(m, 'drop_prob'))
    assert any(m.drop_prob > 0 for m in model.backbone.modules() if hasattr(m, 'drop_prob'))


def test_teacher_sees_the_global_crops_and_the_crop_count_is_checked():
    model = _model().train()
    seen = []
    model.teacher.module[0].register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    model.loss(_crops(n=3))
    assert seen == [(6, 3, 32, 32)]
    with pytest.raises(ConfigError, match='gives 3 crops per image but head.num_crops is 4'):
        model.loss(_crops()[:3])


def test_teacher_backbone_loads_for_downstream_use(tmp_path):
    from fovea.models.weights import load_weights
    model = _model()
    model.loss(_crops())
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.add_(0.5)                                   # teacher != student
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'dino.pth')
    vit = build(CFG['backbone'], MODELS)
    load_weights(vit, tmp_path / 'dino.pth', prefix='teacher.module.0.', strict=True)
    for p, q in zip(vit.parameters(), model.teacher.module[0].parameters()):
        assert torch.equal(p, q)


def test_last_layer_is_weight_normalised():
    neck = build(dict(type='DINONeck', in_channels=8, hidden_channels=16, bottleneck_channels=4, out_channels=10), MODELS)
    assert set(neck.state_dict()) == {'mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp.4.weight',
                                      'mlp.4.bias', 'last_layer.weight_g', 'last_layer.weight_v'}
    torch.testing.assert_close(neck.last_layer.weight.norm(dim=1), torch.ones(10))
    assert not neck.last_layer.weight_g.requires_grad
    free = build(dict(type='DINONeck', in_channels=8, hidden_channels=16, bottleneck_channels=4, out_channels=10,
                      norm_last_layer=False), MODELS)
    assert free.last_layer.weight_g.requires_grad
    x = torch.randn(3, 8)
    ref = torch.nn.utils.parametrizations.weight_norm(nn.Linear(4, 10, bias=False))
    ref.parametrizations.weight.original0.data.copy_(neck.last_layer.weight_g)
    ref.parametrizations.weight.original1.data.copy_(neck.last_layer.weight_v)
    torch.testing.assert_close(neck((x,))[0], ref(F.normalize(neck.mlp(x), dim=-1)))


def test_teacher_temperature_warmup_hook():
    hook = DINOTeacherTempWarmupHook(warmup_teacher_temp=0.04, teacher_temp=0.07, teacher_temp_warmup_epochs=4,
                                     max_epochs=6)
    assert hook.teacher_temps == pytest.approx([0.04, 0.05, 0.06, 0.07, 0.07, 0.07])
    model = _model()
    for epoch, want in ((0, 0.04), (2, 0.06), (9, 0.07)):
        hook.before_train_epoch(SimpleNamespace(unwrapped_model=model, epoch=epoch))
        assert model.head.teacher_temp == pytest.approx(want)
    with pytest.raises(ConfigError, match='teacher_temp_warmup_epochs=8'):
        DINOTeacherTempWarmupHook(0.04, 0.07, 8, 6)


def test_multicrop_gives_global_crops_first():
    t = build(dict(type='DINOMultiCrop', local_crops_number=3, global_crops_size=32, local_crops_size=16), TRANSFORMS)
    out = t({'img': torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8), 'img_shape': (40, 48),
             'ori_shape': (40, 48)})
    assert [tuple(v.shape) for v in out['img']] == [(3, 32, 32)] * 2 + [(3, 16, 16)] * 3


CONFIGS = ['dino_vit-tiny-p4_cifar10',
           pytest.param('dino_vit-small-p16_16xb64-amp-coslr-100e_in1k', marks=pytest.mark.slow),
           pytest.param('dino_vit-base-p16_8xb64-amp-coslr-100e_in1k', marks=pytest.mark.slow)]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_one_step_with_a_finite_loss(name):
    cfg = Config.fromfile(name)
    model_cfg = cfg.model_cfg()
    model_cfg['backbone']['img_size'] = 32                          # the step at 32 px global, 16 px local crops
    sizes = [32, 32] + [16] * cfg.train_pipeline[1]['local_crops_number']
    views = [torch.randint(0, 256, (2, 3, s, s), dtype=torch.uint8) for s in sizes]
    model, log = train_step_of_config(cfg, model_cfg, views)
    assert math.isfinite(float(log['loss']))
    assert int(model.teacher.steps) == 2 and model.head.center.abs().sum() > 0


def _dist_worker(rank, world, port):
    model = _model().eval()                                 # eval: no stochastic depth
    crops = _crops(n=4)
    model.loss(crops)                                       # the first call copies the teacher
    model.head.update_center()
    check_ddp_matches_one_process(model, crops, rank, world, port)
    one_process, this_rank = model.head._pending            # the batch center of the global batch on both
    torch.testing.assert_close(this_rank, one_process)


@pytest.mark.slow
def test_two_processes_give_the_loss_gradients_and_center_of_one_process_on_the_global_batch():
    mp.spawn(_dist_worker, args=(2, free_port()), nprocs=2, join=True)

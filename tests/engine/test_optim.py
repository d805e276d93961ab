"""Optimizers (LAMB, LARS), paramwise and layer-decay constructors, accumulation and auto-scaled LR."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from fovea.engine.optim_constructor import build_optim_wrapper
from fovea.engine.optim_wrapper import OptimWrapper
from fovea.engine.optimizers import LARS, Lamb
from fovea.registry import OPTIMIZERS
from fovea.utils.errors import ConfigError


def _toy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 3))


def _train(opt, model, steps=3):
    torch.manual_seed(1)
    for _ in range(steps):
        x = torch.randn(16, 4)
        loss = model(x).pow(2).mean() * 10
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.reference
def test_lamb_matches_timm():
    timm_optim = pytest.importorskip('timm.optim')
    for kw in (dict(weight_decay=0.02), dict(weight_decay=0.0, always_adapt=True, trust_clip=True),
               dict(weight_decay=0.05, max_grad_norm=0.01)):
        a, b = _toy(), _toy()
        _train(Lamb(a.parameters(), lr=0.01, **kw), a)
        _train(timm_optim.Lamb(b.parameters(), lr=0.01, **kw), b)
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.allclose(pa, pb, atol=1e-6), kw


def test_lamb_trust_ratio_by_hand():
    # one tensor, no clipping, no bias-correction effect at step 1: m/(sqrt(v)+eps) = sign(g)
    w = nn.Parameter(torch.tensor([3., 4.]))
    w.grad = torch.tensor([1., -2.])
    Lamb([w], lr=0.1, weight_decay=0.5, eps=0., max_grad_norm=None).step()
    u = torch.tensor([1., -1.]) + 0.5 * torch.tensor([3., 4.])          # [2.5, 1.0]
    ratio = 5.0 / u.norm()                                              # ||w|| / ||u||
    assert torch.allclose(w.detach(), torch.tensor([3., 4.]) - 0.1 * ratio * u)


def test_lars_by_hand_and_exclude():
    w = nn.Parameter(torch.tensor([3., 4.]))
    w.grad = torch.tensor([0.6, 0.8])
    LARS([w], lr=1.0, weight_decay=0.1, eta=0.01, eps=0.).step()
    local = 0.01 * 5.0 / (1.0 + 0.1 * 5.0)
    d = local * (torch.tensor([0.6, 0.8]) + 0.1 * torch.tensor([3., 4.]))
    assert torch.allclose(w.detach(), torch.tensor([3., 4.]) - d)
    # excluded group: plain SGD with weight decay; momentum buffer starts at the first update
    b = nn.Parameter(torch.tensor([1., 1.]))
    opt = LARS([{'params': [b], 'lars_exclude': True}], lr=0.5, momentum=0.9)
    for _ in range(2):
        b.grad = torch.tensor([1., 2.])
        opt.step()
    assert torch.allclose(b.detach(), torch.tensor([1., 1.]) - 0.5 * torch.tensor([1., 2.]) * (1 + 1.9))
    with pytest.raises(ConfigError, match='Nesterov'):
        LARS([b], lr=0.1, nesterov=True)


def test_registered_names_and_fused_passthrough():
    for name in ('Lamb', 'LARS', 'SGD', 'AdamW', 'RMSprop', 'Adan' if 'Adan' in OPTIMIZERS else 'Adam'):
        assert OPTIMIZERS.get(name) is not None
    model = _toy()
    ow = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1e-3, fused=True)))
    assert ow.optimizer.defaults['fused'] is True
    _train(ow.optimizer, model, steps=1)
    ow = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.1, foreach=True)))
    assert ow.optimizer.defaults['foreach'] is True


def test_paramwise_cfg_custom_keys_and_decay_mults():
    model = _toy()
    cfg = dict(optimizer=dict(type='LARS', lr=1.0, weight_decay=0.1),
               paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.5,
                                  custom_keys={'3': dict(lr_mult=0.1, lars_exclude=True),
                                               '3.bias': dict(decay_mult=0.)}))
    groups = build_optim_wrapper(model, cfg).optimizer.param_groups
    by_name = {n: g for g in groups for n in g['param_names']}
    assert by_name['0.weight']['weight_decay'] == 0.1 and by_name['0.weight']['lr'] == 1.0
    assert by_name['0.bias']['weight_decay'] == pytest.approx(0.05)
    assert by_name['1.weight']['weight_decay'] == 0. and by_name['1.bias']['weight_decay'] == 0.
    assert by_name['3.weight']['lr'] == pytest.approx(0.1) and by_name['3.weight']['lars_exclude'] is True
    assert by_name['3.bias']['weight_decay'] == 0. and by_name['3.bias']['lr'] == 1.0  # longest key wins
    with pytest.raises(ConfigError, match='norm_decay_mult'):
        build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.1), paramwise_cfg=dict(norm_decay_mul=0)))


class _Tiny(nn.Module):
    """A transformer-shaped model implementing get_layer_depth (used when no ViT backbone is importable)."""

    def __init__(self, depth: int = 4):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.pos_embed = nn.Parameter(torch.zeros(1, 2, 4))
        self.backbone.patch_embed = nn.Linear(4, 4)
        self.backbone.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(depth))
        self.backbone.ln1 = nn.LayerNorm(4)
        self.backbone.num_layers = depth
        self.head = nn.Linear(4, 2)

        def get_layer_depth(name, prefix=''):
            n = depth + 2
            if not name.startswith(prefix):
                return n - 1, n
            name = name[len(prefix):]
            if name.startswith(('pos_embed', 'patch_embed')):
                return 0, n
            if name.startswith('layers.'):
                return int(name.split('.')[1]) + 1, n
            return n - 1, n
        self.backbone.get_layer_depth = get_layer_depth


def _vit_like():
    try:
        from fovea.models.backbones.vision_transformer import VisionTransformer
    except ImportError:
        return _Tiny()
    model = nn.Module()
    model.backbone = VisionTransformer(arch=dict(embed_dims=16, num_layers=4, num_heads=2, feedforward_channels=32),
                                       img_size=32, patch_size=16)
    model.head = nn.Linear(16, 2)
    return model


def test_layer_decay_groups_for_vit():
    model = _vit_like()
    cfg = dict(optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
               constructor='LearningRateDecayOptimWrapperConstructor',
               paramwise_cfg=dict(layer_decay_rate=0.5, norm_decay_mult=0., bias_decay_mult=0.,
                                  custom_keys={'.pos_embed': dict(decay_mult=0.), '.cls_token': dict(decay_mult=0.)}))
    groups = build_optim_wrapper(model, cfg).optimizer.param_groups
    by_name = {n: g for g in groups for n in g['param_names']}
    n = 4 + 2
    assert by_name['backbone.pos_embed']['lr'] == pytest.approx(0.5 ** (n - 1))
    assert by_name['backbone.pos_embed']['weight_decay'] == 0.
    assert by_name['backbone.patch_embed.projection.weight' if 'backbone.patch_embed.projection.weight' in by_name
                   else 'backbone.patch_embed.weight']['lr'] == pytest.approx(0.5 ** (n - 1))
    for i in range(4):
        names = [k for k in by_name if k.startswith(f'backbone.layers.{i}.')]
        assert names and all(by_name[k]['lr'] == pytest.approx(0.5 ** (n - i - 2)) for k in names)
        assert all(by_name[k]['weight_decay'] == (0. if k.endswith('bias') or 'ln' in k or 'norm' in k else 0.05)
                   for k in names), names
    assert by_name['head.weight']['lr'] == 1.0 and by_name['head.weight']['weight_decay'] == 0.05
    assert by_name['head.bias']['weight_decay'] == 0.
    # groups with identical settings are merged: one group per (depth, decay) pair
    assert len(groups) == len({(g['layer_id'], g.get('weight_decay')) for g in groups})
    with pytest.raises(ConfigError, match='get_layer_depth'):
        build_optim_wrapper(_toy(), dict(cfg, paramwise_cfg=dict(layer_decay_rate=0.5)))


def test_accumulation_equals_large_batch():
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randn(32, 3)
    ref, acc = _toy(), _toy()
    acc.load_state_dict(ref.state_dict())
    ow_ref = OptimWrapper(torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9), clip_grad=dict(max_norm=1.0))
    ow_acc = OptimWrapper(torch.optim.SGD(acc.parameters(), lr=0.1, momentum=0.9), accumulative_counts=4,
                          clip_grad=dict(max_norm=1.0))
    for _ in range(2):
        ow_ref.update_params(nn.functional.mse_loss(ref(x), y))
        for xs, ys in zip(x.chunk(4), y.chunk(4)):
            before = [p.clone() for p in acc.parameters()]
            ow_acc.update_params(nn.functional.mse_loss(acc(xs), ys))
        assert not all(torch.equal(a, b) for a, b in zip(before, acc.parameters()))  # stepped on the 4th
        for pa, pb in zip(ref.parameters(), acc.parameters()):
            assert torch.allclose(pa, pb, atol=1e-6)


def test_auto_scale_lr_arithmetic(tmp_path, caplog):
    from fovea.config import Config
    from fovea.engine.runner import Runner
    cfg = Config.fromfile('lenet5_digits', [f'work_dir={tmp_path}'])
    cfg['auto_scale_lr'] = dict(base_batch_size=256, enable=True)
    cfg['optim_wrapper']['accumulative_counts'] = 2
    runner = Runner.from_cfg(cfg)
    runner.train_dataloader = type('L', (), {'batch_size': 64})()
    runner.world_size = 4  # 4 ranks x 64 x 2 accumulation = 512 = 2 x base
    with caplog.at_level(logging.INFO, logger='fovea'):
        scaled = runner._scaled_optim_cfg()
    assert scaled['optimizer']['lr'] == pytest.approx(0.05 * 2)
    assert 'total batch 512' in caplog.text
    runner.world_size = 1
    cfg_off = runner._optim_cfg
    runner.auto_scale_lr = dict(base_batch_size=256)  # not enabled: unchanged
    assert runner._scaled_optim_cfg()['optimizer']['lr'] == cfg_off['optimizer']['lr']

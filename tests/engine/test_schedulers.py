"""Parameter schedulers: every curve against hand-computed values and MMEngine's documented behaviour."""
from __future__ import annotations

import math

import pytest
import torch

from fovea.engine.schedulers import INF, build_param_schedulers
from fovea.registry import PARAM_SCHEDULERS
from fovea.utils.errors import ConfigError


def _opt(lr=1.0, momentum=0.9, weight_decay=0.1, n_groups=1, kind='SGD'):
    groups = [{'params': [torch.nn.Parameter(torch.zeros(1))]} for _ in range(n_groups)]
    if kind == 'AdamW':
        return torch.optim.AdamW(groups, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _curve(cfgs, steps, opt=None, key='lr', epoch_length=None):
    """Values seen by the optimizer at steps 0..steps-1 (a step = one scheduler.step() after training)."""
    opt = opt or _opt()
    scheds = build_param_schedulers(cfgs, opt, epoch_length)
    out = []
    for _ in range(steps):
        g = opt.param_groups[0]
        out.append(g['betas'][0] if key == 'momentum' and 'betas' in g else g[key])
        for s in scheds:
            s.step()
    return out


def test_linear_warmup_hand_values():
    # factor 0.25 -> 1 over steps 0..4 (end=5: MMEngine's total_iters = end - begin - 1 = 4), then constant
    got = _curve(dict(type='LinearLR', start_factor=0.25, end=5), 8)
    assert got == pytest.approx([0.25, 0.4375, 0.625, 0.8125, 1.0, 1.0, 1.0, 1.0])


def test_constant_lr():
    got = _curve(dict(type='ConstantLR', factor=0.5, end=3), 5)
    assert got == pytest.approx([0.5, 0.5, 1.0, 1.0, 1.0])


def test_cosine_hand_values_and_eta_min_ratio():
    got = _curve(dict(type='CosineAnnealingLR', T_max=4, eta_min=0.2, end=4), 6)
    want = [0.2 + 0.8 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)] + [got[3]] * 2
    assert got == pytest.approx(want)
    got = _curve(dict(type='CosineAnnealingLR', T_max=4, eta_min_ratio=0.1, end=5), 5, opt=_opt(lr=2.0))
    assert got[-1] == pytest.approx(0.2)  # eta_min = 0.1 x base 2.0, reached at k = T_max


def test_multistep_step_exponential_poly():
    assert _curve(dict(type='MultiStepLR', milestones=[2, 4], gamma=0.5), 6) == pytest.approx(
        [1, 1, .5, .5, .25, .25])
    assert _curve(dict(type='StepLR', step_size=2, gamma=0.1), 5) == pytest.approx([1, 1, .1, .1, .01])
    assert _curve(dict(type='ExponentialLR', gamma=0.5, end=3), 5) == pytest.approx([1, .5, .25, .25, .25])
    # PolyLR end=5: total 4 steps, (1 - k/4)^2 from 1 to eta_min 0.1
    got = _curve(dict(type='PolyLR', eta_min=0.1, power=2., end=5), 6)
    assert got == pytest.approx([0.1 + 0.9 * (1 - min(k, 4) / 4) ** 2 for k in range(6)])
    # a one-step window (end - begin == 1) keeps its value; it used to divide by zero
    assert _curve(dict(type='PolyLR', eta_min=0.1, power=1., begin=0, end=1), 2) == pytest.approx([1, 1])


def test_warmup_then_cosine_chained_like_mmengine():
    """MMEngine's documented chain: LinearLR for the first iterations, then CosineAnnealingLR, both
    with their own windows; each scheduler only changes the value inside [begin, end)."""
    cfgs = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
            dict(type='CosineAnnealingLR', by_epoch=False, T_max=6, begin=3, end=9, eta_min=0.)]
    got = _curve(cfgs, 10)
    warm = [0.1, 0.55, 1.0]
    cos = [(1 + math.cos(math.pi * k / 6)) / 2 for k in range(6)]
    assert got[:3] == pytest.approx(warm)
    assert got[3:9] == pytest.approx(cos)
    assert got[9] == pytest.approx(cos[-1])  # outside every window: unchanged


def test_overlapping_schedulers_multiply():
    # MultiStep x Linear in the same window (chainable form): product of the two factors
    cfgs = [dict(type='LinearLR', start_factor=0.5, end=3), dict(type='MultiStepLR', milestones=[1], gamma=0.1)]
    got = _curve(cfgs, 4)
    assert got == pytest.approx([0.5, 0.075, 0.1, 0.1])


def test_convert_to_iter_based():
    cfg = dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2, convert_to_iter_based=True)
    opt = _opt()
    (s,) = build_param_schedulers(cfg, opt, epoch_length=3)
    assert (s.by_epoch, s.begin, s.end, s.T_max) == (False, 0, 6, 6)
    with pytest.raises(ConfigError, match='convert_to_iter_based'):
        build_param_schedulers(cfg, _opt(), epoch_length=None)


def test_onecycle_matches_torch():
    total = 20
    opt_ref = _opt()
    ref = torch.optim.lr_scheduler.OneCycleLR(opt_ref, max_lr=0.5, total_steps=total, pct_start=0.25,
                                              cycle_momentum=False, div_factor=10, final_div_factor=100)
    want = []
    for _ in range(total):
        want.append(opt_ref.param_groups[0]['lr'])
        opt_ref.step()
        ref.step()
    got = _curve(dict(type='OneCycleLR', eta_max=0.5, total_steps=total, pct_start=0.25, div_factor=10,
                      final_div_factor=100, by_epoch=False), total)
    assert got == pytest.approx(want)
    assert got[0] == pytest.approx(0.05) and max(got) == pytest.approx(0.5)
    assert got[-1] == pytest.approx(0.5 / 10 / 100)


def test_onecycle_three_phase_linear_matches_torch():
    total = 12
    opt_ref = _opt()
    ref = torch.optim.lr_scheduler.OneCycleLR(opt_ref, max_lr=1.0, total_steps=total, three_phase=True,
                                              anneal_strategy='linear', cycle_momentum=False)
    want = []
    for _ in range(total):
        want.append(opt_ref.param_groups[0]['lr'])
        opt_ref.step()
        ref.step()
    got = _curve(dict(type='OneCycleLR', eta_max=1.0, total_steps=total, three_phase=True,
                      anneal_strategy='linear', by_epoch=False), total)
    assert got == pytest.approx(want)


def test_cosine_restart_hand_values():
    got = _curve(dict(type='CosineRestartLR', periods=[4, 2], restart_weights=[1, 0.5], eta_min=0., by_epoch=False),
                 8)
    first = [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)]
    second = [0.5 * (1 + math.cos(math.pi * t / 2)) / 2 for t in range(2)]
    assert got[:6] == pytest.approx(first + second)
    assert got[6:] == pytest.approx([second[-1]] * 2)  # after the last period: left alone
    with pytest.raises(ConfigError, match='exactly one'):
        _curve(dict(type='CosineRestartLR', periods=[4], restart_weights=[1]), 1)
    with pytest.raises(ConfigError, match='same length'):
        _curve(dict(type='CosineRestartLR', periods=[4, 4], restart_weights=[1], eta_min=0.), 1)


def test_momentum_and_weight_decay_variants():
    got = _curve(dict(type='CosineAnnealingMomentum', T_max=2, eta_min=0.5, end=3), 3, key='momentum')
    assert got == pytest.approx([0.9, 0.7, 0.5])
    # Adam-style: momentum is betas[0]
    got = _curve(dict(type='LinearMomentum', start_factor=0.5, end=3), 3, opt=_opt(kind='AdamW'), key='momentum')
    assert got == pytest.approx([0.45, 0.675, 0.9])
    got = _curve(dict(type='CosineAnnealingWeightDecay', T_max=2, eta_min=0., end=3), 3, key='weight_decay')
    assert got == pytest.approx([0.1, 0.05, 0.0])
    got = _curve(dict(type='CosineRestartWeightDecay', periods=[2], eta_min_ratio=0.), 2, key='weight_decay')
    assert got == pytest.approx([0.1, 0.05])


def test_every_registered_name_exists():
    for shape in ('Linear', 'Constant', 'CosineAnnealing', 'MultiStep', 'Step', 'Exponential', 'Poly', 'CosineRestart'):
        for kind in ('LR', 'Momentum', 'WeightDecay'):
            assert PARAM_SCHEDULERS.get(f'{shape}{kind}') is not None
    assert PARAM_SCHEDULERS.get('OneCycleLR') is not None


def test_param_groups_keep_their_own_base():
    opt = torch.optim.SGD([{'params': [torch.nn.Parameter(torch.zeros(1))], 'lr': 1.0},
                           {'params': [torch.nn.Parameter(torch.zeros(1))], 'lr': 0.1}], lr=1.0)
    (s,) = build_param_schedulers(dict(type='CosineAnnealingLR', T_max=2, end=3), opt)
    s.step()
    assert [g['lr'] for g in opt.param_groups] == pytest.approx([0.5, 0.05])


def test_scheduler_state_round_trip():
    opt = _opt()
    (s,) = build_param_schedulers(dict(type='CosineAnnealingLR', T_max=10, end=10), opt)
    for _ in range(3):
        s.step()
    state = s.state_dict()
    opt2 = _opt()
    opt2.param_groups[0]['lr'] = opt.param_groups[0]['lr']
    opt2.param_groups[0]['initial_lr'] = 1.0
    (s2,) = build_param_schedulers(dict(type='CosineAnnealingLR', T_max=10, end=10), opt2)
    s2.load_state_dict(state)
    opt2.param_groups[0]['lr'] = opt.param_groups[0]['lr']
    s.step()
    s2.step()
    assert opt2.param_groups[0]['lr'] == pytest.approx(opt.param_groups[0]['lr'])


def test_bad_window_and_unknown_param():
    with pytest.raises(ConfigError, match='end'):
        build_param_schedulers(dict(type='LinearLR', begin=5, end=5), _opt())
    with pytest.raises(ConfigError, match='momentum'):
        build_param_schedulers(dict(type='LinearMomentum', end=3), torch.optim.Adagrad([torch.nn.Parameter(
            torch.zeros(1))]))
    assert INF > 10 ** 8

"""Scheduler curves against MMEngine itself (optional reference: skipped unless mmengine is installed)."""
from __future__ import annotations

import pytest
import torch

from fovea.engine.schedulers import build_param_schedulers

CASES = [
    [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
     dict(type='CosineAnnealingLR', T_max=15, eta_min=0.01, by_epoch=False, begin=5, end=20)],
    [dict(type='MultiStepLR', milestones=[3, 7], gamma=0.5, by_epoch=False),
     dict(type='LinearLR', start_factor=0.5, end=4, by_epoch=False)],
    [dict(type='ConstantLR', factor=0.25, end=6, by_epoch=False),
     dict(type='ExponentialLR', gamma=0.9, by_epoch=False)],
    [dict(type='PolyLR', eta_min=0.001, power=2.0, begin=2, end=12, by_epoch=False)],
    [dict(type='StepLR', step_size=4, gamma=0.3, by_epoch=False)],
    [dict(type='CosineRestartLR', periods=[5, 7], restart_weights=[1, 0.6], eta_min=0.02, by_epoch=False)],
    [dict(type='CosineAnnealingLR', T_max=6, eta_min=0.05, by_epoch=False)],  # past T_max: comes back up
    [dict(type='OneCycleLR', eta_max=0.3, total_steps=20, pct_start=0.2, by_epoch=False)],
    [dict(type='CosineAnnealingMomentum', T_max=10, eta_min=0.5, by_epoch=False, end=10),
     dict(type='LinearLR', start_factor=0.2, end=3, by_epoch=False)],
]


def _run(build, cfgs, steps=20):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
    scheds = build(cfgs, opt)
    out = []
    for _ in range(steps):
        out += [opt.param_groups[0]['lr'], opt.param_groups[0]['momentum']]
        opt.step()
        for s in scheds:
            s.step()
    return out


@pytest.mark.reference
@pytest.mark.parametrize('cfgs', CASES, ids=[c[0]['type'] for c in CASES])
def test_curves_match_mmengine(cfgs):
    pytest.importorskip('mmengine')
    from mmengine.optim import scheduler as mm

    def mm_build(cfgs, opt):
        out = []
        for c in cfgs:
            c = dict(c)
            out.append(getattr(mm, c.pop('type'))(opt, **c))
        return out

    ours = _run(lambda c, o: build_param_schedulers(c, o), cfgs)
    ref = _run(mm_build, cfgs)
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-12)

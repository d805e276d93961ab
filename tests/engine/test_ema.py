"""EMA arithmetic, EMAHook (evaluation on EMA/original, checkpoints, resume) and PreciseBN."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from fovea.config import Config
from fovea.engine.ema import EMAHook, update_bn_stats
from fovea.models.utils.averaged_model import ExponentialMovingAverage, MomentumAnnealingEMA
from fovea.engine.runner import Runner
from fovea.utils.errors import ConfigError


def _lin():
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.)
    return m


def _feed(ema, model, values):
    out = []
    for v in values:
        with torch.no_grad():
            model.weight.fill_(v)
        ema.update_parameters(model)
        out.append(ema.module.weight.item())
    return out


def test_ema_update_arithmetic():
    model = _lin()
    ema = ExponentialMovingAverage(model, momentum=0.25)
    got = _feed(ema, model, [4., 8., 0., 2.])
    # first call copies; then avg <- 0.75 avg + 0.25 new
    want = [4.]
    for v in [8., 0., 2.]:
        want.append(0.75 * want[-1] + 0.25 * v)
    assert got == pytest.approx(want)
    assert int(ema.steps) == 4


def test_ema_interval_and_buffers():
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=2)
    vals = []
    for v in [2., 4., 6., 8.]:
        with torch.no_grad():
            model[0].weight.fill_(v)
            model[1].running_mean.fill_(v)
        ema.update_parameters(model)
        vals.append(ema.module[0].weight.item())
        assert ema.module[1].running_mean.item() == v  # buffers follow the source (update_buffers=False)
    # step 0 copies (2), step 1 skipped, step 2 averages with 6 -> 4, step 3 skipped
    assert vals == pytest.approx([2., 2., 4., 4.])


def test_momentum_annealing_warmup():
    model = _lin()
    ema = MomentumAnnealingEMA(model, momentum=0.01, gamma=2)
    got = _feed(ema, model, [1., 0., 0., 0.])
    # steps 1, 2, 3 use momentum max(0.01, 2 / (2 + t)) = 2/3, 1/2, 2/5
    want, avg = [1.], 1.
    for t in (1, 2, 3):
        m = max(0.01, 2 / (2 + t))
        avg = (1 - m) * avg
        want.append(avg)
    assert got == pytest.approx(want)


def test_bad_arguments():
    with pytest.raises(ConfigError, match='momentum'):
        ExponentialMovingAverage(_lin(), momentum=0.9999 + 1)
    with pytest.raises(ConfigError, match='both False'):
        EMAHook(evaluate_on_ema=False, evaluate_on_origin=False)


def _digits(tmp_path, name, *opts, hooks=()):
    cfg = Config.fromfile('lenet5_digits', [f'work_dir={tmp_path / name}', 'train_cfg.max_epochs=2',
                                            'train_cfg.val_interval=1', 'param_scheduler.1.end=2',
                                            'default_hooks.checkpoint.save_best=None', 'env_cfg.precision=fp32',
                                            'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=4',
                                            'train_dataloader.dataset.indices=256',
                                            'val_dataloader.dataset.indices=128',
                                            'test_dataloader.dataset.indices=128',
                                            'param_scheduler.0.end=8', *opts])
    cfg['custom_hooks'] = list(hooks)
    return Runner.from_cfg(cfg)


def test_ema_hook_end_to_end_and_resume(tmp_path):
    hook = dict(type='EMAHook', momentum=0.05, evaluate_on_origin=True)
    runner = _digits(tmp_path, 'a', hooks=[hook])
    runner.train()
    metrics = runner.last_metrics['val']
    assert {'accuracy/top1', 'accuracy/top1_origin'} <= set(metrics)
    ema_hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
    assert int(ema_hook.ema_model.steps) == runner.iter
    # the EMA differs from the trained weights, and the checkpoint's state_dict holds the EMA weights
    ckpt = torch.load(Path(runner.run_dir) / 'epoch_2.pth', weights_only=True)
    src = runner.unwrapped_model.state_dict()
    ema = ema_hook.ema_model.module.state_dict()
    key = 'backbone.features.0.weight' if 'backbone.features.0.weight' in src else next(
        k for k, v in src.items() if v.dtype.is_floating_point and v.ndim > 1)
    assert not torch.equal(src[key], ema[key])
    assert torch.equal(ckpt['state_dict'][key], ema[key])
    assert torch.equal(ckpt['ema_state_dict']['module.' + key], src[key])
    # the test command on that checkpoint reproduces the EMA validation accuracy
    tester = _digits(tmp_path, 't', f'load_from={Path(runner.run_dir) / "epoch_2.pth"}')
    assert tester.test()['accuracy/top1'] == pytest.approx(metrics['accuracy/top1'])
    # resuming from epoch 1 gives back both the original weights and the EMA
    resumed = _digits(tmp_path, 'b', f'resume={Path(runner.run_dir) / "epoch_1.pth"}',
                      'train_cfg.max_epochs=2', hooks=[hook])
    resumed.train()
    r_hook = next(h for h in resumed.hooks if isinstance(h, EMAHook))
    for k, v in r_hook.ema_model.module.state_dict().items():
        assert torch.allclose(v, ema[k], atol=1e-6), k
    for k, v in resumed.unwrapped_model.state_dict().items():
        assert torch.allclose(v, src[k], atol=1e-6), k


def test_update_bn_stats_is_the_exact_average():
    torch.manual_seed(0)
    bn_model = nn.Sequential(nn.BatchNorm1d(3))

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = bn_model
            self.data_preprocessor = lambda batch, training: {'inputs': batch}

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.net(inputs)

    batches = [torch.randn(8, 3) * (i + 1) + i for i in range(4)]
    update_bn_stats(M(), batches, num_iters=4)
    want_mean = torch.stack([b.mean(0) for b in batches]).mean(0)
    want_var = torch.stack([b.var(0, unbiased=True) for b in batches]).mean(0)
    assert torch.allclose(bn_model[0].running_mean, want_mean, atol=1e-5)
    assert torch.allclose(bn_model[0].running_var, want_var, atol=1e-4)
    assert bn_model[0].momentum == 0.1  # restored

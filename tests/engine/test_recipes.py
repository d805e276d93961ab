"""Shipped schedules and ResNet strikes-back recipes: whole-run curves, and `fovea vis-scheduler`."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

import fovea

from fovea.config import Config
from fovea.engine.schedulers import simulate_param_schedule

EL = 3  # iterations per epoch in the simulations
SCHEDULES = Path(fovea.__file__).parent / 'configs' / '_base_' / 'schedules'


def _sim(name):
    cfg = Config.fromfile(SCHEDULES / f'{name}.py')
    return cfg, simulate_param_schedule(cfg['optim_wrapper'], cfg.get('param_scheduler'), EL,
                                        max_epochs=cfg['train_cfg']['max_epochs'])


def test_step_schedules():
    _, v = _sim('imagenet_bs256')
    lr = v['lr']
    assert len(lr) == 100 * EL
    assert lr[0] == 0.1 and lr[30 * EL - 1] == 0.1 and lr[30 * EL] == pytest.approx(0.01)
    assert lr[-1] == pytest.approx(1e-4)
    _, v = _sim('imagenet_bs256_140e')
    assert v['lr'][120 * EL] == pytest.approx(1e-4) and len(v['lr']) == 140 * EL
    _, v = _sim('imagenet_bs256_epochstep')
    assert v['lr'][-1] == pytest.approx(0.045 * 0.98 ** 299)
    _, v = _sim('cifar10_bs128')
    assert v['lr'][150 * EL] == pytest.approx(0.001)


def test_cosine_and_warmup_schedules():
    _, v = _sim('imagenet_bs256_coslr')
    lr = v['lr']
    assert lr[0] == 0.1 and lr[50 * EL] == pytest.approx(0.05) and lr[-1] == pytest.approx(
        0.05 * (1 + math.cos(math.pi * 99 / 100)))
    # warmup per iteration over 5 epochs from 0.25 x lr, then cosine by epoch
    _, v = _sim('imagenet_bs256_200e_coslr_warmup')
    lr = v['lr']
    assert lr[0] == pytest.approx(0.025) and lr[5 * EL - 1] == pytest.approx(0.1) and lr[5 * EL] == pytest.approx(0.1)
    assert lr[1] - lr[0] == pytest.approx((0.1 - 0.025) / (5 * EL - 1))


def test_rsb_and_transformer_schedules():
    cfg, v = _sim('imagenet_bs2048_rsb')
    assert cfg['optim_wrapper']['optimizer']['type'] == 'Lamb'
    lr = v['lr']
    assert lr[0] == pytest.approx(0.005 * 1e-4) and max(lr) == pytest.approx(0.005)
    assert lr[-1] == pytest.approx(1e-6 + (0.005 - 1e-6) * (1 + math.cos(math.pi * 94 / 95)) / 2)
    # Swin: the cosine has no `end`: it runs to max_epochs (300) as in MMEngine, down towards eta_min 1e-5
    _, v = _sim('imagenet_bs1024_adamw_swin')
    lr = v['lr']
    assert max(lr) == pytest.approx(1e-3) and lr[0] == pytest.approx(1e-6)
    assert lr[-1] == pytest.approx(1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * 279 / 280)) / 2)
    assert v['momentum'][0] == 0.9  # AdamW betas[0]
    cfg, v = _sim('imagenet_bs4096_adamw')
    assert max(v['lr']) == pytest.approx(0.003) and len(v['lr']) == 300 * EL
    assert cfg['optim_wrapper']['paramwise_cfg']['custom_keys']['.pos_embed'] == {'decay_mult': 0.0}


@pytest.mark.parametrize('name,epochs,lr,mixup', [('resnet50_8xb256-rsb-a1-600e_in1k', 600, 0.005, 0.2),
                                                  ('resnet50_8xb256-rsb-a2-300e_in1k', 300, 0.005, 0.1),
                                                  ('resnet50_8xb256-rsb-a3-100e_in1k', 100, 0.008, 0.1)])
def test_rsb_recipes(name, epochs, lr, mixup):
    cfg = Config.fromfile(name)
    assert cfg['train_cfg']['max_epochs'] == epochs
    assert cfg['optim_wrapper']['optimizer'] == dict(type='Lamb', lr=lr, weight_decay=0.01 if 'a1' in name
                                                     else 0.02)
    assert cfg['optim_wrapper']['paramwise_cfg'] == dict(bias_decay_mult=0., norm_decay_mult=0.)
    assert cfg['model']['head']['loss']['use_sigmoid'] is True
    assert cfg['model']['backbone']['norm_cfg']['type'] == 'SyncBN'
    assert cfg['model']['train_cfg']['augments'][0] == dict(type='Mixup', alpha=mixup)
    sched = cfg['param_scheduler']
    assert sched[-1]['end'] == epochs and sched[-1]['T_max'] == epochs - 5
    v = simulate_param_schedule(cfg['optim_wrapper'], sched, 1, max_epochs=epochs)
    assert max(v['lr']) == pytest.approx(lr) and len(v['lr']) == epochs


def test_vis_scheduler_cli_writes_png(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    from fovea.cli.main import main
    out = tmp_path / 'lr.png'
    with pytest.raises(SystemExit) as exc:
        main(['vis-scheduler', str(SCHEDULES / 'imagenet_bs256_200e_coslr_warmup.py'), '--dataset-size', '2560',
              '--batch-size', '256',
              '--save-path', str(out)])
    assert exc.value.code == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 10_000
    text = capsys.readouterr().out
    assert '2000 iterations (10 per epoch)' in text and 'peaks 0.1' in text

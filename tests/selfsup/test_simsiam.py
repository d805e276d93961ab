"""SimSiam: the loss is the symmetrised negative cosine with stopped targets (MMPretrain's values:
test_simsiam_densecl_swav_reference.py), and SimSiamHook keeps the predictor's learning rate fixed while
the scheduler anneals the others (MMPretrain's fix_lr groups)."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.engine.hooks import Hook
from fovea.engine.runner import Runner
from fovea.registry import MODELS, build

BN1D = dict(type='BN1d')
CFG = dict(type='SimSiam', backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16),
           neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=32, out_channels=32, num_layers=3,
                     with_last_bn_affine=False, norm_cfg=BN1D),
           head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                     predictor=dict(type='NonLinearNeck', in_channels=32, hid_channels=8, out_channels=32,
                                    with_avg_pool=False, with_last_bn=False, with_last_bias=True, norm_cfg=BN1D)))


def _views(n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g) for _ in range(2)]


def test_loss_is_the_symmetrised_negative_cosine_with_stopped_targets():
    torch.manual_seed(0)
    model = build(CFG, MODELS).eval()
    v1, v2 = _views(4)
    z1, z2 = model.neck(model.backbone(v1))[0], model.neck(model.backbone(v2))[0]
    p1, p2 = model.head.predictor([z1])[0], model.head.predictor([z2])[0]
    cos = torch.nn.functional.cosine_similarity
    expected = -0.5 * (cos(p1, z2.detach()).mean() + cos(p2, z1.detach()).mean())
    loss = model.loss([v1, v2])['loss']
    torch.testing.assert_close(loss, expected)
    loss.backward()                                   # the targets carry no gradient: only through p
    assert model.head.predictor.fc0.weight.grad.abs().sum() > 0


class _RecordLR(Hook):
    """The learning rate of every group as the optimizer step of each iteration sees it."""
    priority = 'LOWEST'

    def __init__(self):
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append([(bool(g.get('fix_lr')), g['lr']) for g in runner.optim_wrapper.optimizer.param_groups])


@pytest.mark.parametrize('adjust_by_epoch', [False, True])
def test_simsiam_hook_keeps_the_predictor_lr_fixed(tmp_path, adjust_by_epoch):
    d = tmp_path / 'data' / 'train' / 'a'
    d.mkdir(parents=True)
    for i in range(8):
        Image.new('RGB', (32, 32), (30 * i, 200 - 20 * i, 90)).save(d / f'{i}.png')
    cfg = Config.fromfile('simsiam_resnet18_cifar10', [
        f'work_dir={tmp_path / "run"}', f'train_dataloader.dataset.data_root={tmp_path / "data"}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=3', 'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'model.backbone.base_channels=8', 'model.neck.in_channels=64', 'model.neck.hid_channels=16',
        'model.neck.out_channels=16', 'model.head.predictor.in_channels=16', 'model.head.predictor.hid_channels=8',
        'model.head.predictor.out_channels=16', f'custom_hooks.1.adjust_by_epoch={adjust_by_epoch}'])
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'KNNHook']
    assert [h['type'] for h in cfg.custom_hooks] == ['SimSiamHook']
    runner = Runner.from_cfg(cfg)
    record = _RecordLR()
    runner.register_hook(record)
    runner.train()
    fixed_lr = cfg.custom_hooks[0]['lr']
    seen = record.seen
    fixed = [lr for it in seen for f, lr in it if f]
    others = [lr for it in seen for f, lr in it if not f]
    assert len(seen) == 6 and len(fixed) >= 6
    assert len(set(others)) > 2                       # the others follow warm-up and cosine
    if adjust_by_epoch:        # reset at each epoch start; the iteration-based scheduler moves it within
        assert all(lr == fixed_lr for i in (0, 2, 4) for f, lr in seen[i] if f)      # an epoch (MMPretrain)
        assert all(lr != fixed_lr for i in (1, 3, 5) for f, lr in seen[i] if f)
    else:
        assert set(fixed) == {fixed_lr}


def test_simsiam_hook_warns_when_no_group_is_marked(caplog):
    from types import SimpleNamespace

    from fovea.engine.selfsup_hooks import SimSiamHook
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    runner = SimpleNamespace(optim_wrapper=SimpleNamespace(optimizer=opt))
    with caplog.at_level('WARNING', logger='fovea'):
        SimSiamHook(fix_pred_lr=True, lr=0.05).before_train(runner)
    assert "custom_keys={'predictor': dict(fix_lr=True)}" in caplog.text
    opt.param_groups[0]['fix_lr'] = True
    caplog.clear()
    with caplog.at_level('WARNING', logger='fovea'):
        SimSiamHook(fix_pred_lr=True, lr=0.05).before_train(runner)
    assert not caplog.text

"""DenseCL: the dense loss matches each query cell with its most similar key cell, both queues and the
key encoder follow the optimizer steps, and DenseCLHook holds loss_lambda at 0 for start_iters
(MMPretrain's values: test_simsiam_densecl_swav_reference.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fovea.engine.selfsup_hooks import DenseCLHook
from fovea.registry import MODELS, build
from fovea.utils.errors import ConfigError

CFG = dict(type='DenseCL', queue_len=64, feat_dim=16, momentum=0.01, loss_lambda=0.5,
           backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16),
           neck=dict(type='DenseCLNeck', in_channels=128, hid_channels=32, out_channels=16),
           head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))


def _model(**kw):
    torch.manual_seed(0)
    model = build(dict(CFG, **kw), MODELS)
    model.init_weights()
    return model


def _views(n=8, seed=1, size=32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def test_dense_loss_contrasts_each_cell_with_its_best_matching_key_cell():
    model = _model().eval()
    v1, v2 = _views(4, size=64)                    # 8x8 output maps: 64 cells per image
    losses = model.loss([v1, v2])
    with torch.no_grad():
        fq, fk = model.backbone(v1)[0], model.encoder_k.module[0](v2)[0]
        _, q_grid, _ = model.neck((fq,))
        _, k_grid, _ = model.encoder_k.module[1]((fk,))
        q_grid, k_grid = F.normalize(q_grid, dim=1), F.normalize(k_grid, dim=1)
        logits, n, cells = [], fq.size(0), fq.size(2) * fq.size(3)
        for i in range(n):                         # the literal loop: cell by cell
            qb = F.normalize(fq[i].flatten(1), dim=0)
            kb = F.normalize(fk[i].flatten(1), dim=0)
            for c in range(cells):
                best = int((qb[:, c:c + 1] * kb).sum(0).argmax())
                pos = (q_grid[i, :, c] * k_grid[i, :, best]).sum()
                neg = q_grid[i, :, c] @ model.queue2
                logits.append(torch.cat((pos.view(1), neg)))
        expected = F.cross_entropy(torch.stack(logits) / 0.2, torch.zeros(n * cells, dtype=torch.long))
    torch.testing.assert_close(losses['loss_dense'], expected * 0.5)
    assert set(losses) == {'loss_single', 'loss_dense'}


def test_queues_and_key_encoder_follow_the_optimizer_steps():
    model = _model().train()
    online = nn.Sequential(model.backbone, model.neck)
    model.loss(_views())                           # first step: the key encoder is a copy
    for p, q in zip(online.parameters(), model.encoder_k.module.parameters()):
        assert torch.equal(p, q)
    before = model.queue2.clone()
    assert int(model.queue_ptr) == int(model.queue2_ptr) == 0      # keys wait for the optimizer step
    model.after_optimizer_step(1, 10)
    assert int(model.queue_ptr) == int(model.queue2_ptr) == 8
    assert not torch.equal(model.queue2[:, :8], before[:, :8]) and torch.equal(model.queue2[:, 8:], before[:, 8:])
    torch.testing.assert_close(model.queue2.norm(dim=0), torch.ones(64))
    with pytest.raises(ConfigError, match='DenseCL queue_len=64 must be a multiple of the global batch'):
        model.loss(_views(6))


def test_densecl_hook_holds_loss_lambda_at_zero_for_start_iters():
    model = _model()
    hook = DenseCLHook(start_iters=2)
    runner = SimpleNamespace(unwrapped_model=model, iter=0)
    hook.before_train(runner)
    seen = []
    for it in range(4):
        runner.iter = it
        hook.before_train_iter(runner, it)
        losses = model.loss(_views())
        seen.append((model.loss_lambda, losses['loss_dense'].item()))
    assert [lam for lam, _ in seen] == [0., 0., 0.5, 0.5]
    assert seen[0][1] == 0 and seen[2][1] > 0
    with pytest.raises(ConfigError, match='DenseCLHook needs a model with loss_lambda'):
        DenseCLHook().before_train(SimpleNamespace(unwrapped_model=nn.Linear(2, 2)))


def test_num_grid_pools_the_matching_cells_to_the_dense_grid():
    model = _model(neck=dict(CFG['neck'], num_grid=2)).train()
    losses = model.loss(_views(4, size=64))      # 8x8 maps pooled to 2x2 (MMPretrain: an index error)
    assert torch.isfinite(losses['loss_dense'])
    _, dense, _ = model.neck(model.backbone(_views(4, size=64)[0]))
    assert dense.shape == (4, 16, 4)


def test_cifar_config_trains_with_the_hook_from_custom_hooks(tmp_path):
    from PIL import Image

    from fovea.config import Config
    from fovea.engine.hooks import Hook
    from fovea.engine.runner import Runner
    d = tmp_path / 'data' / 'train' / 'a'
    d.mkdir(parents=True)
    for i in range(4):
        Image.new('RGB', (32, 32), (50 * i, 200 - 30 * i, 90)).save(d / f'{i}.png')
    cfg = Config.fromfile('densecl_resnet18_cifar10', [
        f'work_dir={tmp_path / "run"}', f'train_dataloader.dataset.data_root={tmp_path / "data"}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=2', 'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'default_hooks.checkpoint=None',
        'model.queue_len=8', 'model.backbone.base_channels=8', 'model.neck.in_channels=64',
        'model.neck.hid_channels=16', 'custom_hooks.1.start_iters=2'])
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'KNNHook']

    class Record(Hook):
        priority = 'LOWEST'
        seen = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            Record.seen.append((runner.unwrapped_model.loss_lambda, float(outputs['loss_dense']),
                                int(runner.unwrapped_model.queue2_ptr)))

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Record())
    runner.train()
    assert [(lam, ptr) for lam, _, ptr in Record.seen] == [(0., 2), (0., 4), (0.5, 6), (0.5, 0)]
    assert [dense == 0 for _, dense, _ in Record.seen] == [True, True, False, False]

"""Weighted kNN: the vote against a literal implementation, and the KNNHook / `fovea knn` path on
class folders through a SimCLR training run."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from PIL import Image

from fovea.evaluation.knn import knn_accuracy, weighted_knn_scores
from fovea.utils.errors import ConfigError


def _literal(memory, labels, queries, num_classes, k, t):
    out = []
    for q in queries:
        sims = [(float(torch.dot(q, m) / (q.norm() * m.norm())), int(y)) for m, y in zip(memory, labels)]
        sims.sort(key=lambda s: -s[0])
        votes = [0.0] * num_classes
        for s, y in sims[:k]:
            votes[y] += math.exp(s / t)
        out.append(votes)
    return torch.tensor(out)


def test_vote_matches_the_literal_definition():
    g = torch.Generator().manual_seed(0)
    memory, labels, queries = torch.randn(50, 6, generator=g), torch.randint(0, 4, (50,), generator=g), \
        torch.randn(7, 6, generator=g)
    ours = weighted_knn_scores(memory, labels, queries, 4, k=10, temperature=0.07, chunk_size=3)
    torch.testing.assert_close(ours, _literal(memory, labels, queries, 4, 10, 0.07).float(), rtol=1e-4, atol=1e-4)


def test_separable_clusters_are_classified_and_k_is_capped():
    centres = torch.eye(3) * 5
    memory = centres.repeat_interleave(20, 0) + torch.randn(60, 3) * 0.1
    labels = torch.arange(3).repeat_interleave(20)
    queries = centres + torch.randn(3, 3) * 0.1
    res = knn_accuracy(memory, labels, queries, torch.arange(3), k=200)
    assert res == {'knn/top1': 100.0}                      # top5 dropped: only 3 classes
    with pytest.raises(ValueError, match=r'\(M, D\) memory and \(Q, D\) query'):
        weighted_knn_scores(memory, labels, torch.randn(2, 4), 3)


def _folders(root, n=12):
    for split in ('train', 'test'):
        for c, colour in enumerate([(220, 30, 30), (30, 30, 220)]):
            d = root / split / f'class{c}'
            d.mkdir(parents=True)
            for i in range(n):
                Image.new('RGB', (32, 32), tuple(min(255, v + 3 * i) for v in colour)).save(d / f'{i}.png')
    return root


def _options(root, work_dir):
    opts = [f'work_dir={work_dir}', 'train_cfg.max_epochs=2', 'param_scheduler.0.end=1', 'param_scheduler.1.begin=1', 'train_dataloader.batch_size=8',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            "model.backbone.base_channels=8", 'model.neck.in_channels=64', 'model.neck.hid_channels=32',
            'model.neck.out_channels=16', 'custom_hooks.0.interval=1',
            "knn_cfg.train_dataloader.dataset.metainfo.classes=['class0','class1']",
            "knn_cfg.val_dataloader.dataset.metainfo.classes=['class0','class1']"]
    for key in ('train_dataloader', 'knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.dataset.data_root={root}')
    for key in ('knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.num_workers=0')
    return opts


@pytest.mark.slow
def test_simclr_run_reports_knn_and_the_knn_command_reproduces_it(tmp_path):
    from fovea.config import Config
    from fovea.engine.runner import Runner
    root = _folders(tmp_path / 'data')
    cfg = Config.fromfile('simclr_resnet18_cifar10', _options(root, tmp_path / 'run'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    top1 = runner.last_metrics['val']['knn/top1']
    assert top1 >= 90.0                                     # two colours: trivially separable
    records = [json.loads(line) for line in next((tmp_path / 'run').rglob('scalars.json')).read_text().splitlines()]
    assert any('knn/top1' in r for r in records)
    ckpt = next((tmp_path / 'run').rglob('epoch_2.pth'))
    out = subprocess.run([sys.executable, '-m', 'fovea', 'knn', 'simclr_resnet18_cifar10', str(ckpt), '--cfg-options',
                          *_options(root, tmp_path / 'run2')], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'knn/top1' in out.stdout and f'{top1:.2f}' in out.stdout


def test_knn_without_labelled_loaders_says_what_to_add():
    from fovea.config import Config
    from fovea.evaluation.knn import knn_loaders
    with pytest.raises(ConfigError, match='knn_cfg=dict'):
        knn_loaders(Config.fromfile('simclr_resnet50_8xb32-coslr-200e_in1k'))

"""Weighted k-nearest-neighbour classification of features (Wu et al., "Unsupervised Feature Learning
via Non-Parametric Instance Discrimination", CVPR 2018): the standard check that self-supervised
features carry class information, with no training (k=200, temperature 0.1 as InstDisc and
lightly's benchmarks use).

Each query's k most cosine-similar memory features vote for their labels with weight
``exp(similarity / temperature)``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fovea.models.selfsup.base import BaseSelfSupervisor, pooled_features
from fovea.utils.errors import ConfigError

__all__ = ['weighted_knn_scores', 'knn_accuracy', 'extract_features', 'knn_evaluate', 'knn_loaders']


@torch.no_grad()
def weighted_knn_scores(memory: torch.Tensor, memory_labels: torch.Tensor, queries: torch.Tensor,
                        num_classes: int, k: int = 200, temperature: float = 0.1,
                        chunk_size: int = 512) -> torch.Tensor:
    """(Q, num_classes) vote scores of ``queries`` (Q, D) against ``memory`` (M, D) with labels (M,)."""
    if memory.ndim != 2 or queries.ndim != 2 or memory.shape[1] != queries.shape[1]:
        raise ValueError(f'kNN needs (M, D) memory and (Q, D) query features, got {tuple(memory.shape)} '
                         f'and {tuple(queries.shape)}')
    if len(memory) != len(memory_labels):
        raise ValueError(f'{len(memory)} memory features but {len(memory_labels)} labels')
    memory = F.normalize(memory.float(), dim=1)
    labels = memory_labels.long()
    k = min(k, len(memory))
    out = []
    for start in range(0, len(queries), chunk_size):
        q = F.normalize(queries[start:start + chunk_size].float(), dim=1)
        sim, idx = (q @ memory.t()).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = torch.zeros(len(q), num_classes, dtype=weights.dtype)
        votes.scatter_add_(1, labels[idx], weights)
        out.append(votes)
    return torch.cat(out) if out else torch.zeros(0, num_classes)


def knn_accuracy(memory: torch.Tensor, memory_labels: torch.Tensor, queries: torch.Tensor,
                 query_labels: torch.Tensor, num_classes: int | None = None, k: int = 200,
                 temperature: float = 0.1, topk: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Top-k accuracies (percent) of weighted kNN, keyed ``knn/top1``, ``knn/top5``."""
    num_classes = num_classes or int(max(memory_labels.max(), query_labels.max())) + 1
    scores = weighted_knn_scores(memory, memory_labels, queries, num_classes, k, temperature)
    ranked = scores.argsort(dim=1, descending=True)
    hits = ranked == query_labels.long().view(-1, 1)
    return {f'knn/top{t}': hits[:, :t].any(1).float().mean().item() * 100 for t in topk if t <= num_classes}


@torch.no_grad()
def extract_features(model: nn.Module, loader, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled last-stage backbone features (N, D) and labels (N,) of every sample of ``loader``
    (a self-supervised model's through its ``extract_feat``: masked-image models encode every patch,
    unmasked, there)."""
    was_training = model.training
    encode = model.extract_feat if isinstance(model, BaseSelfSupervisor) else model.backbone
    model.eval()
    feats, labels = [], []
    try:
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            x = data['inputs'][0] if isinstance(data['inputs'], (list, tuple)) else data['inputs']
            feats.append(pooled_features(encode(x)).float().cpu())
            samples = data['data_samples']
            if 'gt_label' not in samples[0]:
                raise ConfigError('kNN evaluation needs labelled images: the loader\'s dataset gives samples '
                                  'without gt_label (with_label=False?); use a labelled split.')
            labels.append(torch.cat([s.gt_label.view(-1)[:1] for s in samples]).cpu())
            if limit is not None and sum(map(len, labels)) >= limit:
                break
    finally:
        model.train(was_training)
    f, y = torch.cat(feats), torch.cat(labels)
    return (f[:limit], y[:limit]) if limit is not None else (f, y)


def knn_loaders(cfg) -> tuple[Any, Any]:
    """The (memory, query) loaders of ``cfg.knn_cfg`` (``train_dataloader`` / ``val_dataloader``), or
    else the config's val (or test) loader for queries and its training dataset with the val
    pipeline for the memory bank."""
    from fovea.data.loader import build_dataloader
    knn_cfg = cfg.get('knn_cfg') or {}
    query_cfg = knn_cfg.get('val_dataloader') or cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if not query_cfg:
        raise ConfigError('kNN evaluation needs labelled query images: add knn_cfg=dict(train_dataloader=..., '
                          'val_dataloader=...) (class folders of the training and validation images, '
                          'with test-time transforms) or a val_dataloader to the config.')
    memory_cfg = knn_cfg.get('train_dataloader')
    if memory_cfg is None:
        train = cfg.get('train_dataloader')
        if not train:
            raise ConfigError('kNN evaluation needs a memory bank: add knn_cfg.train_dataloader to the config.')
        memory_cfg = dict(query_cfg)
        dataset = dict(train['dataset'])
        dataset['pipeline'] = query_cfg['dataset'].get('pipeline', [])
        memory_cfg['dataset'] = dataset
    loaders = []
    for key, loader_cfg in (('knn_cfg.train_dataloader', memory_cfg), ('knn_cfg.val_dataloader', query_cfg)):
        loader_cfg = dict(loader_cfg)
        loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
        loader_cfg.pop('persistent_workers', None)
        loader = build_dataloader(loader_cfg, seed=0, key=key)
        # every rank evaluates the whole sets (no communication; the same numbers on every rank)
        sampler = loader.sampler
        sampler.rank, sampler.world_size = 0, 1
        sampler.num_samples = sampler.total_size = len(loader.dataset)
        loaders.append(loader)
    return loaders[0], loaders[1]


def knn_evaluate(model: nn.Module, memory_loader, query_loader, k: int = 200, temperature: float = 0.1,
                 num_classes: int | None = None) -> dict[str, float]:
    """Weighted kNN top-1/top-5 (percent) of ``model``'s backbone features."""
    memory, memory_labels = extract_features(model, memory_loader)
    queries, query_labels = extract_features(model, query_loader)
    if num_classes is None:
        classes = getattr(getattr(memory_loader, 'dataset', None), 'CLASSES', None)
        num_classes = len(classes) if classes else None
    return knn_accuracy(memory, memory_labels, queries, query_labels, num_classes, k, temperature)

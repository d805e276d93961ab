"""Per-sample predictions on a dataset and what is made from them: confusion matrices, t-SNE
embeddings of features, and galleries of the most confident successes and failures.

The per-sample record (what ``fovea test --out`` writes under ``predictions``) is::

    {'sample_idx': int, 'img_path': str (when the dataset has files), 'gt_label': int,
     'pred_label': int, 'pred_score': float, 'pred_scores': [float, ...]}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from fovea.engine.hooks import Hook
from fovea.evaluation.single_label import plot_confusion_matrix as _plot_confusion_matrix
from fovea.utils.errors import DataError, require

__all__ = ['sample_record', 'PredictionCollector', 'predict_dataset', 'test_precision', 'load_results',
           'confusion_matrix', 'plot_confusion_matrix', 'tsne_embedding', 'plot_embedding', 'result_galleries', 'build_test_loader']


def sample_record(s: Any) -> dict:
    """The JSON-able prediction record of one DataSample."""
    scores = s.pred_score.float().cpu()
    rec: dict = {'sample_idx': int(s.get('sample_idx', -1))}
    if s.get('img_path') is not None:
        rec['img_path'] = str(s.img_path)
    if 'gt_label' in s:
        gt = s.gt_label.cpu().tolist()
        rec['gt_label'] = gt[0] if len(gt) == 1 else gt
    pl = s.pred_label.cpu().tolist() if 'pred_label' in s else [int(scores.argmax())]
    rec['pred_label'] = pl[0] if len(pl) == 1 else pl
    rec['pred_score'] = float(scores.max())
    rec['pred_scores'] = [round(float(v), 6) for v in scores]
    return rec


class PredictionCollector(Hook):
    """A hook that keeps the per-sample predictions of the test (or val) loop."""
    priority = 'LOW'

    def __init__(self) -> None:
        self.records: list[dict] = []

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        self.records.extend(sample_record(s) for s in outputs or ())

    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        self.after_test_iter(runner, batch_idx, data_batch, outputs)


def build_test_loader(cfg, phase: str = 'test'):
    """The config's test (or val/train) dataloader, without shuffling."""
    from fovea.data.loader import build_dataloader
    from fovea.utils.errors import ConfigError
    key = f'{phase}_dataloader'
    loader_cfg = cfg.get(key) if phase != 'test' else (cfg.get('test_dataloader') or cfg.get('val_dataloader'))
    if not loader_cfg:
        raise ConfigError(f'the config has no {key}; pass a config with one')
    loader_cfg = dict(loader_cfg)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    return build_dataloader(loader_cfg, seed=0, key=key)


@torch.no_grad()
def test_precision(cfg, model: nn.Module) -> str:
    """The precision ``fovea test`` evaluates ``model`` (built from ``cfg``, on its device) in: its
    ``env_cfg.precision``, resolved as the Runner does, so the tools report the numbers ``fovea test`` does."""
    from fovea.engine.optim_wrapper import model_precision
    requested = ((cfg or {}).get('env_cfg') or {}).get('precision', 'auto')
    device_type = next(model.parameters()).device.type
    return model_precision(requested, device_type, sum(p.numel() for p in model.parameters()))[0]


@torch.no_grad()
def predict_dataset(model: nn.Module, loader, with_features: bool = False, feature_stage: str = 'pre_logits',
                    limit: int | None = None, precision: str = 'fp32') -> tuple[list[dict], np.ndarray | None]:
    """Predictions (records as :func:`sample_record`) for every sample of a dataloader, and optionally
    the features at ``feature_stage`` ((N, D) array; feature maps are average-pooled). ``precision``:
    autocast as in evaluation ('fp32', 'bf16', 'fp16'; see :func:`test_precision`)."""
    from fovea.engine.optim_wrapper import autocast
    model.eval()
    device_type = next(model.parameters()).device.type
    records, feats = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        x, samples = data['inputs'], data['data_samples']
        with autocast(precision, device_type):
            f = model.extract_feat(x, stage=feature_stage) if with_features else None
            out = model(x, samples, mode='predict')
        if f is not None:
            f = f[-1] if isinstance(f, (tuple, list)) else f
            feats.append((f.flatten(2).mean(-1) if f.ndim > 2 else f).float().cpu())
        records.extend(sample_record(s) for s in out)
        if limit is not None and len(records) >= limit:
            break
    features = torch.cat(feats).numpy() if feats else None
    if limit is not None:
        records = records[:limit]
        features = features[:limit] if features is not None else None
    return records, features


def load_results(path: str | os.PathLike) -> list[dict]:
    """The per-sample predictions of a ``fovea test --out`` file."""
    if not os.path.isfile(path):
        raise DataError(f'results file {str(path)!r} does not exist; write one with '
                        f'`fovea test CFG CKPT --out results.json`')
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    preds = data.get('predictions') if isinstance(data, dict) else data
    if not preds:
        raise DataError(f'{str(path)!r} has no per-sample "predictions"; it was written by an older '
                        f'`fovea test`: run it again with --out')
    return preds


def confusion_matrix(gt: Sequence[int], pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``cm[true, predicted]``."""
    gt, pred = np.asarray(gt, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f'{gt.shape[0]} labels but {pred.shape[0]} predictions')
    return np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes,
                                                                                            num_classes)


def _plt():
    matplotlib = require('matplotlib', 'tools', 'plots')
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_confusion_matrix(cm: np.ndarray, classes: Sequence[str] | None = None, normalize: bool = True,
                          title: str = 'Confusion matrix', max_labels: int = 40):
    """:func:`fovea.evaluation.single_label.plot_confusion_matrix` on the non-interactive backend."""
    _plt()
    return _plot_confusion_matrix(cm, classes, normalize=normalize, title=title, max_labels=max_labels)


def tsne_embedding(features: np.ndarray, perplexity: float = 30.0, seed: int = 0, n_iter: int = 1000,
                   pca_dims: int = 50) -> np.ndarray:
    """2-D t-SNE of (N, D) features (after PCA to ``pca_dims`` when D is larger)."""
    require('sklearn', 'tools', 't-SNE')
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    x = np.asarray(features, dtype=np.float32)
    if x.shape[1] > pca_dims and x.shape[0] > pca_dims:
        x = PCA(n_components=pca_dims, random_state=seed).fit_transform(x)
    perplexity = min(perplexity, max(2.0, (x.shape[0] - 1) / 3))
    try:
        tsne = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init='pca', max_iter=n_iter)
    except TypeError:  # scikit-learn < 1.5
        tsne = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init='pca', n_iter=n_iter)
    return tsne.fit_transform(x)


def plot_embedding(points: np.ndarray, labels: Sequence[int], classes: Sequence[str] | None = None,
                   title: str = 't-SNE of features'):
    """Scatter plot of 2-D points coloured by class."""
    plt = _plt()
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(7, 6))
    uniq = np.unique(labels)
    cmap = plt.get_cmap('tab10' if len(uniq) <= 10 else 'tab20')
    for k, c in enumerate(uniq):
        m = labels == c
        name = classes[c] if classes is not None and c < len(classes) else str(c)
        ax.scatter(points[m, 0], points[m, 1], s=8, color=cmap(k % cmap.N), label=name)
    if len(uniq) <= 20:
        ax.legend(markerscale=2, fontsize=8, loc='best')
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return fig


def result_galleries(records: Sequence[dict], topk: int = 20) -> dict[str, list[dict]]:
    """The ``topk`` most confident successes and failures (records with ``gt_label`` only)."""
    labelled = [r for r in records if isinstance(r.get('gt_label'), int)]
    if not labelled:
        raise DataError('the results carry no single-label ground truth (gt_label); cannot tell '
                        'successes from failures')
    ok = sorted((r for r in labelled if r['pred_label'] == r['gt_label']), key=lambda r: -r['pred_score'])
    bad = sorted((r for r in labelled if r['pred_label'] != r['gt_label']), key=lambda r: -r['pred_score'])
    return {'success': ok[:topk], 'fail': bad[:topk]}


def save_json(obj: Any, path: str | os.PathLike) -> Path:
    from fovea.utils.io import atomic_write_text
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=1))
    return Path(path)

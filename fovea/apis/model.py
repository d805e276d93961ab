"""get_model / list_models: build named models from the zoo (or any config file)."""
from __future__ import annotations

import os
from typing import Any, Sequence

from torch import nn

from fovea.config import Config, merge
from fovea.registry import MODELS, key_scope
from fovea.utils.errors import ConfigError
from fovea.zoo import find_entry, model_index, search_entries

__all__ = ['get_model', 'list_models', 'build_model_from_cfg']


def list_models(pattern: str | None = None, task: str | None = None) -> list[str]:
    """Names of the models in the index, optionally filtered by a pattern (``'resnet*'``) or task."""
    return sorted(e['name'] for e in search_entries(pattern, task))


def build_model_from_cfg(model_cfg: dict) -> nn.Module:
    """Build a model config and run its weight initialisation."""
    with key_scope('model'):
        model = MODELS.build(dict(model_cfg))
    if hasattr(model, 'init_weights'):
        model.init_weights()
    return model


def get_model(model: str | os.PathLike | Config, pretrained: bool | str = False, device: str | None = None,
              require_all: bool = False, features_only: bool = False,
              out_indices: int | Sequence[int] | None = None, **overrides: Any) -> nn.Module:
    """Build a model by index name, config path or Config.

    Args:
        model: a name from :func:`list_models`, a config file or a :class:`Config`.
        pretrained: ``True`` for the index's published weights, a path/URL of a checkpoint
            (fovea, MMPretrain, timm, torchvision or OpenAI CLIP; detected from the keys), or False.
        device: move the model there.
        require_all: every tensor of the model must be in the checkpoint (as for evaluation); by
            default what fits is loaded and the rest reported (fine-tuning with another head).
        features_only: return the backbone alone (timm's ``features_only``): ``forward(x)`` gives
            the feature maps named by ``out_indices``, ``backbone.feature_info`` /
            ``out_channels`` their widths and reductions; a classifier built into the backbone
            (``num_classes``) is left out. Pretrained weights are loaded first, into the whole model.
        out_indices: the backbone's ``out_indices`` (e.g. ``(0, 1, 2, 3)`` for four scales).
        overrides: merged into the model config, e.g. ``head=dict(num_classes=10)``.

    The returned model carries ``model.cfg`` (the full config) and ``model.dataset_meta``
    (class names when known).
    """
    entry = None
    if isinstance(model, Config):
        cfg = model
    elif isinstance(model, str) and model in model_index():
        entry = find_entry(model)
        cfg = Config.fromfile(entry['config'])
    elif os.path.exists(str(model)) or str(model).endswith(('.py', '.json', '.yaml')):
        cfg = Config.fromfile(model)
    else:
        entry = find_entry(str(model))  # raises with suggestions
        cfg = Config.fromfile(entry['config'])
    backbone_overrides: dict[str, Any] = {}
    if out_indices is not None:
        backbone_overrides['out_indices'] = out_indices
    if features_only and 'num_classes' in (cfg.model_cfg().get('backbone') or {}):
        backbone_overrides['num_classes'] = -1
    if backbone_overrides:
        overrides = merge(overrides, {'backbone': backbone_overrides})
    model_cfg = merge(cfg.model_cfg(), overrides) if overrides else cfg.model_cfg()
    if pretrained:
        # the checkpoint replaces initialisation: do not also fetch backbone weights named in init_cfg
        _drop_pretrained_init(model_cfg)
    net = build_model_from_cfg(model_cfg)
    if pretrained is True:
        weights = (entry or {}).get('weights')
        if not weights:
            raise ValueError(f'No published weights are recorded for {model!r}; pass a checkpoint path instead.')
        from fovea.utils.download import download_to_cache
        pretrained = str(download_to_cache(weights['url'], weights.get('sha256')))
    if pretrained:
        from fovea.models.weights import load_weights
        load_weights(net, pretrained, require_all=require_all)
    if features_only:
        if not isinstance(getattr(net, 'backbone', None), nn.Module):
            raise ConfigError(f'get_model(features_only=True): {type(net).__name__} has no backbone.')
        net = net.backbone
    net.cfg = cfg
    classes = _classes_from_cfg(cfg)
    if not classes and pretrained and not str(pretrained).endswith('.safetensors'):
        # the class names a training checkpoint records (MMPretrain's meta.dataset_meta.classes)
        from fovea.utils.weights import checkpoint_info, read_weights
        classes = list(checkpoint_info(read_weights(pretrained)).classes or ()) or None
    net.dataset_meta = {'classes': classes} if classes else {}
    if device is not None:
        net.to(device)
    return net.eval()


def _drop_pretrained_init(cfg: Any) -> None:
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            _drop_pretrained_init(v)


def _classes_from_cfg(cfg: Config) -> list[str] | None:
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        ds = (cfg.get(key) or {}).get('dataset') if isinstance(cfg.get(key), dict) else None
        if not ds:
            continue
        meta = ds.get('metainfo') or {}
        if meta.get('classes'):
            return list(meta['classes'])
        if ds.get('classes') and not isinstance(ds['classes'], str):
            return list(ds['classes'])
        from fovea.registry import DATASETS
        try:
            cls = DATASETS.get(ds.get('type', ''))
        except Exception:
            continue
        classes = getattr(cls, 'METAINFO', {}).get('classes')
        if classes:
            return list(classes)
    return None

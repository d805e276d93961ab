"""Convert a weights file of another toolbox into a fovea checkpoint for a named model or config."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from fovea.utils.errors import CheckpointError, ConfigError

__all__ = ['convert_checkpoint']


def _read(path: str | os.PathLike, trust: bool) -> dict:
    """The safe reader first (it needs no foreign package); with ``trust``, full unpickling of files it cannot
    rebuild as data."""
    from fovea.utils.weights import read_weights
    try:
        return read_weights(path)
    except CheckpointError:
        if not trust or not Path(path).is_file() or Path(path).stat().st_size == 0:
            raise
    try:
        return torch.load(path, map_location='cpu', weights_only=False)
    except ModuleNotFoundError as exc:
        raise CheckpointError(f'{path}: unpickling it needs the package {exc.name!r}, which is not installed; '
                              f'install it or save only the state dict where the file was made.') from None
    except Exception as exc:
        raise CheckpointError(f'{path} could not be unpickled even with --trust ({type(exc).__name__}: '
                              f'{exc}).') from None


def _build(model: str, cfg_options: Sequence[str]):
    from fovea.apis.model import build_model_from_cfg
    from fovea.config import Config, resolve_config_path
    from fovea.zoo import find_entry, model_index
    if model in model_index():
        path = find_entry(model)['config']
    else:
        try:
            path = resolve_config_path(model)  # a config file or a shipped config's name
        except ConfigError:
            find_entry(model)  # raises a ConfigError with close model names
            raise
    model_cfg = Config.fromfile(path, list(cfg_options) or None).to_dict()['model']
    _drop_pretrained(model_cfg)
    return build_model_from_cfg(model_cfg)


def _drop_pretrained(cfg) -> None:
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            _drop_pretrained(v)


def convert_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, model: str, source: str | None = None,
                       strict: bool = False, trust: bool = False, cfg_options: Sequence[str] = (),
                       ema: bool | None = None):
    """Read ``src``, translate it into ``model``'s names (detecting the source unless given), load it to
    check the fit, and save ``{'state_dict': ..., 'meta': ...}`` (or a .safetensors file) to ``dst``.
    ``ema``: which weights of a training checkpoint (see :func:`fovea.utils.weights.extract_state_dict`);
    the class names it records are kept in ``meta.dataset_meta``.

    Returns the :class:`fovea.convert.LoadReport`.
    """
    from fovea.models.weights import load_weights
    from fovea.utils.io import atomic_save
    from fovea.utils.weights import checkpoint_info, extract_state_dict
    ckpt = _read(src, trust)
    sd = extract_state_dict(ckpt, ema=ema)
    classes = checkpoint_info(ckpt).classes
    net = _build(model, cfg_options)
    report = load_weights(net, sd, strict=strict, source=source, log=False)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items() if k in set(report.loaded)}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.suffix == '.safetensors':
        from fovea.utils.errors import require
        st = require('safetensors.torch', 'tools', 'writing .safetensors files')
        atomic_save(dst, lambda f: f.write(st.save(state, metadata={'source': report.source, 'model': model})))
    else:
        atomic_save(dst, lambda f: torch.save({'state_dict': state,
                                              'meta': {'source': report.source, 'model': model,
                                                       'converted_from': str(src),
                                                       'dataset_meta': {'classes': list(classes)} if classes else {}}},
                                             f))
    return report

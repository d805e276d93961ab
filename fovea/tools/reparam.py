"""Structural re-parameterisation: fold training-time branches into single convolutions for inference.

Any module with a ``switch_to_deploy()`` method (RepVGG blocks and backbones, and later
MobileOne-style models) is switched. :func:`reparameterize_checkpoint` does it to a checkpoint:
it builds the model from the config (given, or the one stored in a fovea checkpoint), loads the
weights, switches, checks that the outputs did not change, and saves a checkpoint whose config has
``deploy=True`` (or the component's ``deploy_argument``) on every switched component so that it loads back
into the deploy form.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fovea.utils.errors import CheckpointError, ConfigError, FoveaError

__all__ = ['reparameterize_model', 'reparameterize_checkpoint', 'ReparameterizeError']


class ReparameterizeError(FoveaError):
    """The re-parameterised model does not reproduce the original outputs."""


def reparameterize_model(model: nn.Module) -> list[str]:
    """Call ``switch_to_deploy()`` on the outermost modules that have it; returns their names."""
    switched: list[str] = []
    for name, mod in model.named_modules():
        if any(name.startswith(s + '.') or s == '' for s in switched):
            continue  # the switched parent handled its children
        if callable(getattr(mod, 'switch_to_deploy', None)):
            mod.switch_to_deploy()
            switched.append(name)
    return switched


def _config_of(ckpt: dict, ckpt_path: str, config: Any) -> Any:
    from fovea.config import Config
    if config is not None:
        return config if isinstance(config, Config) else Config.fromfile(config)
    text = (ckpt.get('meta') or {}).get('config') if isinstance(ckpt, dict) else None
    if not text:
        raise ConfigError(f'{ckpt_path} stores no config (not a fovea checkpoint?); pass the config with --config')
    return Config.from_dump(text, f'{ckpt_path} (meta.config)')  # read as data: a checkpoint never runs code


def _set_deploy(model_cfg: dict, model: nn.Module, switched: list[str]) -> None:
    """Set ``deploy=True`` in the config entries of the switched components (or the argument a component
    names in ``deploy_argument``: RepLKNet's ``small_kernel_merged``)."""
    for name in switched:
        key = getattr(model.get_submodule(name), 'deploy_argument', 'deploy')
        node: Any = model_cfg
        for part in (name.split('.') if name else []):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[key] = True
        elif name == '':
            model_cfg[key] = True


@torch.no_grad()
def reparameterize_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, config: Any = None,
                              input_size: tuple[int, int] | None = None, atol: float = 1e-4,
                              rtol: float = 1e-5) -> dict:
    """Re-parameterise a checkpoint; returns ``dict(switched, params_before, params_after, max_abs_diff, path)``."""
    from fovea.apis.model import build_model_from_cfg
    from fovea.engine.checkpoint import save_checkpoint
    from fovea.models.weights import load_weights
    from fovea.tools.export import input_size_from_cfg, model_in_channels
    from fovea.utils.weights import read_weights
    if not os.path.isfile(checkpoint):
        raise CheckpointError(f'checkpoint {str(checkpoint)!r} does not exist')
    raw = read_weights(checkpoint)
    cfg = _config_of(raw, str(checkpoint), config)
    model_cfg = cfg.model_cfg()
    model = build_model_from_cfg(model_cfg)
    load_weights(model, checkpoint, require_all=True)
    model.eval()
    h, w = input_size if input_size is not None else input_size_from_cfg(cfg)
    input_shape = (2, model_in_channels(model), h, w)
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
    forward = (lambda m: m(x, mode='tensor')) if hasattr(model, 'data_preprocessor') else (lambda m: m(x))
    before = forward(model)
    before = before[-1] if isinstance(before, (tuple, list)) else before
    params_before = sum(p.numel() for p in model.parameters())
    switched = reparameterize_model(model)
    if not switched:
        raise ConfigError(f'{type(model).__name__} has no re-parameterisable module (nothing with '
                          f'switch_to_deploy()); only models such as RepVGG can be re-parameterised')
    after = forward(model)
    after = after[-1] if isinstance(after, (tuple, list)) else after
    diff = float((after - before).abs().max())
    scale = float(before.abs().max())
    if diff > atol + rtol * scale:  # float rounding grows with the outputs' magnitude
        raise ReparameterizeError(f'the re-parameterised model differs from the original by up to {diff:.3g} '
                                  f'(outputs up to {scale:.3g}; allowed atol + rtol * that = {atol} + {rtol} * '
                                  f'{scale:.3g}); nothing was saved')
    _set_deploy(model_cfg, model, switched)
    cfg['model'] = model_cfg
    meta = dict(raw.get('meta') or {}) if isinstance(raw, dict) else {}
    meta['config'] = cfg.pretty_text()
    meta['reparameterized'] = switched
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({'meta': meta, 'state_dict': {k: v.cpu() for k, v in model.state_dict().items()}}, out)
    return dict(switched=switched, params_before=params_before,
                params_after=sum(p.numel() for p in model.parameters()), max_abs_diff=diff, max_abs_output=scale, path=str(out),
                input_shape=list(input_shape))

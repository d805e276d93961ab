"""Reading weights files safely and loading them into models from any supported source.

* :func:`read_weights` opens ``.pth/.pt/.ckpt/.bin`` with ``torch.load(weights_only=True)``
  and ``.safetensors`` with safetensors: nothing in a file can run code.
* Converters translate state dicts of other toolboxes (torchvision, timm, MMPretrain,
  OpenAI CLIP) into fovea's names. Each is a function ``(state_dict, model) -> state_dict``
  (or ``None`` when it does not apply) registered with :func:`register_converter`
  under a source name. :func:`convert_state_dict` tries them all and keeps the
  translation that fits the model best, so users never say where a file came from.
* :func:`load_weights` loads the result, dropping tensors whose shapes do not fit
  (a head with another number of classes) and reporting exactly what was and was not loaded.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from fovea.utils.errors import CheckpointError

__all__ = ['read_weights', 'extract_state_dict', 'register_converter', 'convert_state_dict', 'adapt_to_model',
           'load_weights',
           'load_pretrained', 'LoadReport', 'CONVERTERS']

logger = logging.getLogger('fovea')

StateDict = dict[str, torch.Tensor]
Converter = Callable[[StateDict, nn.Module], 'StateDict | None']

#: source name -> converter functions
CONVERTERS: dict[str, list[Converter]] = {}


def register_converter(source: str) -> Callable[[Converter], Converter]:
    """Register a state-dict converter for ``source`` ('torchvision', 'timm', 'mmpretrain', 'clip', ...)."""
    def deco(fn: Converter) -> Converter:
        CONVERTERS.setdefault(source, []).append(fn)
        return fn
    return deco


def read_weights(path: str | os.PathLike, map_location: str | torch.device = 'cpu') -> dict:
    """Read a checkpoint file without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'Checkpoint {str(path)!r} does not exist. Check the path, or train a model first.')
    if path.stat().st_size == 0:
        raise CheckpointError(f'Checkpoint {path} is empty (0 bytes); it was probably cut off while being '
                              f'written or downloaded. Use an earlier checkpoint or download it again.')
    if path.suffix == '.safetensors':
        from fovea.utils.errors import require
        st = require('safetensors.torch', 'tools', 'reading .safetensors files')
        try:
            return st.load_file(str(path), device=str(map_location))
        except Exception as exc:
            raise CheckpointError(f'Checkpoint {path} is not a valid safetensors file: {exc}') from None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        msg = str(exc)
        if 'Weights only load failed' in msg or 'Unsupported global' in msg or 'GLOBAL' in msg:
            raise CheckpointError(
                f'Checkpoint {path} contains Python objects that are not plain weights, so fovea refused to '
                f'unpickle it (it could run code). If you trust the file, convert it once with '
                f'`fovea convert --trust IN OUT`. Detail: {msg.splitlines()[0]}') from None
        raise CheckpointError(f'Checkpoint {path} could not be read ({type(exc).__name__}: '
                              f'{msg.splitlines()[0] if msg else "truncated or corrupt"}). The file is probably '
                              f'truncated or not a PyTorch checkpoint; use an earlier checkpoint.') from None


def extract_state_dict(ckpt: dict) -> StateDict:
    """Find the model weights inside a checkpoint dict (fovea, MMPretrain, timm, Lightning layouts)."""
    for key in ('state_dict', 'model', 'model_state', 'module', 'state_dict_ema'):
        if key in ckpt and isinstance(ckpt[key], dict) and ckpt[key] and all(
                isinstance(v, torch.Tensor) for v in ckpt[key].values()):
            sd = ckpt[key]
            break
    else:
        sd = {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}
    if not sd:
        raise CheckpointError(f'No weights found in the checkpoint (top-level keys: {sorted(ckpt)[:10]}).')
    prefix = 'module.'
    if all(k.startswith(prefix) for k in sd):  # saved from DistributedDataParallel
        sd = {k[len(prefix):]: v for k, v in sd.items()}
    return OrderedDict(sd)


def _fit_score(sd: StateDict, model_sd: StateDict) -> int:
    return sum(1 for k, v in sd.items() if k in model_sd and tuple(model_sd[k].shape) == tuple(v.shape))


def convert_state_dict(sd: StateDict, model: nn.Module, source: str | None = None) -> tuple[StateDict, str]:
    """Translate ``sd`` into ``model``'s names. Returns (state_dict, source name)."""
    import fovea.convert  # noqa: F401  (imports every converter module)
    model_sd = model.state_dict()
    candidates: list[tuple[int, str, StateDict]] = []
    if source in (None, 'fovea'):
        candidates.append((_fit_score(sd, model_sd), 'fovea', sd))
    sources = [source] if source not in (None, 'fovea') else list(CONVERTERS)
    for src in sources:
        if src not in CONVERTERS:
            raise CheckpointError(f'No converter for source {src!r}; known sources: {sorted(CONVERTERS)}.')
        for fn in CONVERTERS[src]:
            try:
                out = fn(dict(sd), model)
            except (KeyError, ValueError, RuntimeError, IndexError):
                out = None
            if out:
                candidates.append((_fit_score(out, model_sd), src, out))
    if not candidates:
        return sd, 'fovea'
    score, src, out = max(candidates, key=lambda c: c[0])
    return OrderedDict(out), src


@dataclass
class LoadReport:
    """What :func:`load_weights` did."""
    source: str = 'fovea'
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    def __str__(self) -> str:
        def short(keys: list[str]) -> str:
            return ', '.join(keys[:8]) + (f' ... (+{len(keys) - 8} more)' if len(keys) > 8 else '')
        lines = [f'loaded {len(self.loaded)} tensors (source: {self.source})']
        if self.missing:
            lines.append(f'missing in checkpoint ({len(self.missing)}): {short(self.missing)}')
        if self.unexpected:
            lines.append(f'unexpected in checkpoint ({len(self.unexpected)}): {short(self.unexpected)}')
        if self.mismatched:
            lines.append(f'shape mismatch, not loaded ({len(self.mismatched)}): ' + ', '.join(
                f'{k} checkpoint {tuple(a)} vs model {tuple(b)}' for k, a, b in self.mismatched[:8]))
        return '; '.join(lines)


def adapt_to_model(sd: StateDict, model: nn.Module) -> None:
    """Let modules fit checkpoint tensors to themselves before shapes are compared.

    A module with a method ``adapt_state_dict(state_dict, prefix)`` edits its own entries in place,
    e.g. a ViT interpolating a 224px position embedding to its 384px grid (and logging it).
    """
    for name, module in model.named_modules():
        fn = getattr(module, 'adapt_state_dict', None)
        if callable(fn):
            fn(sd, f'{name}.' if name else '')


def load_weights(model: nn.Module, weights: str | os.PathLike | dict, strict: bool = False,
                 source: str | None = None, prefix: str | None = None, log: bool = True) -> LoadReport:
    """Load weights (a path or a state dict, any supported source) into ``model``.

    Args:
        strict: raise when anything is missing, unexpected or mismatched.
        source: force a converter source instead of detecting it.
        prefix: load only keys starting with this prefix (stripped), e.g. 'backbone.'.
    """
    where = str(weights) if not isinstance(weights, dict) else 'the given state dict'
    ckpt = read_weights(weights) if not isinstance(weights, dict) else weights
    sd = extract_state_dict(ckpt)
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # mmengine's load_checkpoint: prefix='backbone' means the 'backbone.' keys
    if prefix:
        sd = OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
        if not sd:
            raise CheckpointError(f'{where} has no keys starting with {prefix!r}.')
    sd, src = convert_state_dict(sd, model, source)
    adapt_to_model(sd, model)
    model_sd = model.state_dict()
    report = LoadReport(source=src)
    to_load = OrderedDict()
    for k, v in sd.items():
        if k not in model_sd:
            report.unexpected.append(k)
        elif tuple(model_sd[k].shape) != tuple(v.shape):
            report.mismatched.append((k, tuple(v.shape), tuple(model_sd[k].shape)))
        else:
            to_load[k] = v
    report.missing = [k for k in model_sd if k not in to_load and k not in {m[0] for m in report.mismatched}]
    report.loaded = list(to_load)
    if not report.loaded:
        raise CheckpointError(f'None of the {len(sd)} tensors in {where} fit {type(model).__name__}: '
                              f'{report}. Is it a checkpoint of another architecture?')
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise CheckpointError(f'{where} does not match {type(model).__name__}: {report}. '
                              f'Load with strict=False to keep what fits.')
    model.load_state_dict(to_load, strict=False)
    if log and (report.missing or report.unexpected or report.mismatched):
        logger.warning('Loaded %s into %s: %s', where, type(model).__name__, report)
    return report


def load_pretrained(module: nn.Module, checkpoint: str, prefix: str | None = None) -> LoadReport:
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``: local path or URL (downloaded, cached)."""
    if '://' in str(checkpoint):
        from fovea.utils.download import download_to_cache
        checkpoint = download_to_cache(checkpoint)
    return load_weights(module, checkpoint, prefix=prefix)

"""Loading weights into models from any supported source.

* Converters translate state dicts of other toolboxes (torchvision, timm, MMPretrain, OpenAI
  CLIP) into fovea's names. Each is a function ``(state_dict, model) -> state_dict`` (or ``None``
  when it does not apply) registered with :func:`register_converter` under a source name; they
  live in ``fovea/convert/`` (above this layer) and are imported by name only the first time a
  checkpoint does not fit the model as it is (:func:`converters`).
* :func:`convert_state_dict` keeps a state dict that fits the model exactly (fovea's own
  checkpoints) and otherwise tries every converter, keeping the translation that fits best, so
  users never say where a file came from.
* :func:`load_weights` loads the result, dropping tensors whose shapes do not fit (a head with
  another number of classes) and reporting exactly what was and was not loaded.

Reading files is :func:`fovea.utils.weights.read_weights` (never runs code).
"""
from __future__ import annotations

import importlib
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from fovea.utils.errors import CheckpointError
from fovea.utils.weights import extract_state_dict, read_weights, resolve_checkpoint, selfsup_parts

__all__ = ['register_converter', 'converters', 'convert_state_dict', 'adapt_to_model', 'load_weights',
           'load_pretrained', 'LoadReport', 'CONVERTERS', 'CONVERTER_PACKAGE']

logger = logging.getLogger('fovea')

StateDict = dict[str, torch.Tensor]
Converter = Callable[[StateDict, nn.Module], 'StateDict | None']

#: source name -> converter functions (filled when CONVERTER_PACKAGE is imported)
CONVERTERS: dict[str, list[Converter]] = {}
#: the package whose modules register the converters, imported on first need
CONVERTER_PACKAGE = 'fovea.convert'
#: sources tried first, so that a converter registered under several (VGG's, DenseNet's, Inception's: torchvision
#: and timm name their keys alike) labels a checkpoint the same whatever order the modules were imported in
PREFERRED_SOURCES = ('torchvision', 'timm')


def register_converter(source: str) -> Callable[[Converter], Converter]:
    """Register a state-dict converter for ``source`` ('torchvision', 'timm', 'mmpretrain', 'clip', ...)."""
    def deco(fn: Converter) -> Converter:
        table = CONVERTERS.setdefault(source, [])
        name = (fn.__module__, fn.__qualname__)
        table[:] = [f for f in table if (f.__module__, f.__qualname__) != name] + [fn]  # re-imports replace
        return fn
    return deco


def converters() -> dict[str, list[Converter]]:
    """All registered converters, importing :data:`CONVERTER_PACKAGE` by name the first time."""
    importlib.import_module(CONVERTER_PACKAGE)
    return CONVERTERS


def _fit_score(sd: StateDict, model_sd: StateDict) -> int:
    return sum(1 for k, v in sd.items() if k in model_sd and tuple(model_sd[k].shape) == tuple(v.shape))


def convert_state_dict(sd: StateDict, model: nn.Module, source: str | None = None) -> tuple[StateDict, str]:
    """Translate ``sd`` into ``model``'s names. Returns (state_dict, source name).

    ``source='fovea'``, or a state dict that already fits every tensor of the model, is kept as it
    is without looking at any converter."""
    model_sd = model.state_dict()
    if source == 'fovea' or (source is None and len(sd) == len(model_sd) == _fit_score(sd, model_sd)):
        return OrderedDict(sd), 'fovea'
    table = converters()
    candidates: list[tuple[int, str, StateDict]] = []
    if source is None:
        candidates.append((_fit_score(sd, model_sd), 'fovea', sd))
    order = sorted(table, key=lambda s: PREFERRED_SOURCES.index(s) if s in PREFERRED_SOURCES else len(PREFERRED_SOURCES))
    for src in [source] if source is not None else order:
        if src not in table:
            raise CheckpointError(f'No converter for source {src!r}; known sources: {sorted(table)}.')
        for fn in table[src]:
            try:
                out = fn(dict(sd), model)
            except (KeyError, ValueError, RuntimeError, IndexError):
                out = None
            if out:
                candidates.append((_fit_score(out, model_sd), src, out))
    if not candidates:
        return sd, 'fovea'
    # the most tensors that fit; on a tie, a converter beats the checkpoint as it is when that leaves tensors
    # over (a converter that drops the parts a bare backbone lacks, whose backbone names are the model's)
    score, src, out = max(candidates, key=lambda c: (c[0], c[0] - len(c[2]) if c[1] == 'fovea' else 0))
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

    def incomplete(self, where: str, model_name: str) -> str | None:
        """Why the model is not fully loaded (missing or mismatched tensors), or None when it is.
        ``num_batches_tracked`` counters do not count: evaluation never reads them."""
        missing = [k for k in self.missing if not k.endswith('num_batches_tracked')]
        if not missing and not self.mismatched:
            return None

        def few(items: list[str]) -> str:
            return ', '.join(items[:3]) + (f' and {len(items) - 3} more' if len(items) > 3 else '')
        parts = [f'{len(missing)} missing from the checkpoint ({few(missing)})'] if missing else []
        if self.mismatched:
            parts.append(f'{len(self.mismatched)} with another shape (' + few(
                [f'{k} {tuple(a)} in the checkpoint, {tuple(b)} in the model' for k, a, b in self.mismatched]) + ')')
        return (f'{where} does not fit {model_name}: of its tensors, {"; ".join(parts)}; they would keep random '
                f'values. Use the config the checkpoint was trained with (the same model, e.g. the same '
                f'model.head.num_classes), or a checkpoint of this model. Loading only what fits is for '
                f'fine-tuning: `fovea train CONFIG --load-from CHECKPOINT`.')


def adapt_to_model(sd: StateDict, model: nn.Module) -> None:
    """Let modules fit checkpoint tensors to themselves before shapes are compared.

    A module with a method ``adapt_state_dict(state_dict, prefix)`` edits its own entries in place,
    e.g. a ViT interpolating a 224px position embedding to its 384px grid (and logging it).
    """
    for name, module in model.named_modules():
        fn = getattr(module, 'adapt_state_dict', None)
        if callable(fn):
            fn(sd, f'{name}.' if name else '')


def _part_keys(sd: StateDict, part: str) -> str:
    return f'{part}.*' if any(k.startswith(part + '.') for k in sd) else part


def _refuse_whole_selfsup_model(sd: StateDict, model: nn.Module, where: str, path: str | None) -> None:
    """A self-supervised model's checkpoint (backbone, projector, momentum encoder, ...) loaded into a
    bare backbone without ``prefix``: say that the backbone part is under ``backbone.``."""
    parts = selfsup_parts(sd)
    if not parts or any(k.startswith('backbone.') for k in model.state_dict()):
        return
    raise CheckpointError(
        f'{where} holds a whole self-supervised model ({", ".join(_part_keys(sd, p) for p in parts)}), and '
        f'{type(model).__name__} is only its backbone: load the backbone part with prefix=\'backbone.\', e.g. '
        f"model.backbone.init_cfg=dict(type='Pretrained', checkpoint={path or 'CKPT'!r}, prefix='backbone.').")


def load_weights(model: nn.Module, weights: str | os.PathLike | dict, strict: bool = False,
                 source: str | None = None, prefix: str | None = None, log: bool = True,
                 ema: bool | None = None, require_all: bool = False) -> LoadReport:
    """Load weights (a path or a checkpoint/state dict, any supported source) into ``model``.

    Args:
        strict: raise when anything is missing, unexpected or mismatched.
        source: force a converter source instead of detecting it ('fovea': take the names as they are).
        prefix: load only keys starting with this prefix (stripped), e.g. 'backbone.'.
        ema: which weights of a checkpoint that has several (see
            :func:`fovea.utils.weights.extract_state_dict`): None the main ones, True the
            moving average, False the trained ones.
        require_all: every tensor of the model must load (evaluation, inference, export): raise, naming
            the missing and mismatched ones, instead of keeping what fits; extra checkpoint keys are fine.
    """
    where = str(weights) if not isinstance(weights, dict) else 'the given state dict'
    ckpt = read_weights(weights) if not isinstance(weights, dict) else weights
    try:
        sd = extract_state_dict(ckpt, ema=ema)
    except CheckpointError as exc:
        raise CheckpointError(f'{where}: {exc}') from None
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # mmengine's load_checkpoint: prefix='backbone' means the 'backbone.' keys
    if not prefix and source is None:
        _refuse_whole_selfsup_model(sd, model, where, None if isinstance(weights, dict) else str(weights))
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
    if require_all and report.incomplete(where, type(model).__name__):
        raise CheckpointError(report.incomplete(where, type(model).__name__))
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise CheckpointError(f'{where} does not match {type(model).__name__}: {report}. '
                              f'Load with strict=False to keep what fits.')
    model.load_state_dict(to_load, strict=False)
    if log and (report.missing or report.unexpected or report.mismatched):
        logger.warning('Loaded %s into %s: %s', where, type(model).__name__, report)
    return report


def load_pretrained(module: nn.Module, checkpoint: str, prefix: str | None = None) -> LoadReport:
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``: a local path, a URL (downloaded,
    cached) or a model-zoo name such as ``torchvision://resnet50`` (see
    :func:`fovea.utils.weights.resolve_checkpoint`)."""
    checkpoint, zoo_prefix = resolve_checkpoint(str(checkpoint))
    if '://' in checkpoint:
        from fovea.utils.download import download_to_cache
        checkpoint = download_to_cache(checkpoint)
    return load_weights(module, checkpoint, prefix=prefix or zoo_prefix)

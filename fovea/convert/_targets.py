"""Helpers shared by the CNN converters: where a backbone and its head sit inside the model being
loaded (an ImageClassifier or a bare backbone), and natural ordering of numbered module paths."""
from __future__ import annotations

import re

import torch
from torch import nn

StateDict = dict[str, torch.Tensor]

__all__ = ['locate', 'natural_key', 'module_groups', 'head_linears', 'copy_module', 'check_shapes', 'rename_into']


def locate(model: nn.Module, backbone_type: type | tuple[type, ...]) -> tuple[nn.Module, str, str | None] | None:
    """(backbone, backbone key prefix, head key prefix or None) when ``model`` is, or has as ``.backbone``,
    an instance of ``backbone_type``; None otherwise (the converter does not apply)."""
    if isinstance(model, backbone_type):
        return model, '', None
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, backbone_type):
        return backbone, 'backbone.', 'head.' if getattr(model, 'head', None) is not None else None
    return None


def natural_key(path: str) -> tuple:
    """Sort key comparing dotted paths component-wise, numbers numerically ('features.10' after 'features.9')."""
    return tuple((0, int(p), '') if p.isdigit() else (1, 0, p) for p in path.split('.'))


def module_groups(sd: StateDict, pattern: str) -> list[str]:
    """Distinct prefixes matched by regex ``pattern`` at the start of keys, in natural order."""
    rx = re.compile(pattern)
    found = {m.group(0) for k in sd if (m := rx.match(k))}
    return sorted(found, key=natural_key)


def head_linears(model: nn.Module, head_prefix: str | None) -> list[str]:
    """Key prefixes (ending in '.') of the head's Linear layers, in registration order."""
    if head_prefix is None:
        return []
    head = model.get_submodule(head_prefix.rstrip('.'))
    return [f'{head_prefix}{name}.' for name, m in head.named_modules() if isinstance(m, nn.Linear)]


def copy_module(sd: StateDict, out: StateDict, src: str, dst: str) -> None:
    """Copy every tensor directly under module ``src`` (``src.weight``, ``src.running_mean``...) to ``dst``."""
    src_dot, dst_dot = src + '.', dst + '.'
    hits = [k for k in sd if k.startswith(src_dot) and '.' not in k[len(src_dot):]]
    if not hits:
        raise KeyError(f'{src} has no tensors in the checkpoint')
    for k in hits:
        out[dst_dot + k[len(src_dot):]] = sd[k]


def check_shapes(out: StateDict, model: nn.Module) -> StateDict | None:
    """Reshape tensors that differ from the model's only by singleton dims (1x1 conv <-> linear,
    (C,1,1) <-> (C)); None if any key is unknown or a shape really differs, except in the head,
    whose shape may differ (another number of classes) and is reported by the loader."""
    model_sd = model.state_dict()
    for k, v in list(out.items()):
        if k not in model_sd:
            return None
        target = model_sd[k].shape
        if v.shape != target:
            if v.numel() == target.numel() and [d for d in v.shape if d != 1] == [d for d in target if d != 1]:
                out[k] = v.reshape(target)
            elif not k.startswith('head.'):
                return None
    return out


def rename_into(sd: StateDict, model: nn.Module, backbone_type: type | tuple[type, ...], signature: tuple[str, ...],
                rename, head: str | tuple[str, ...] = 'head.', head_rename=lambda k: f'fc.{k[5:]}') -> StateDict | None:
    """A checkpoint holding all ``signature`` keys, renamed key by key into a model holding a ``backbone_type``:
    ``rename(key) -> fovea key`` (None: the checkpoint is not this family's) for the backbone, ``head_rename(key)``
    (default ``head.weight`` -> ``fc.weight``, under the model's head) for keys starting with ``head``, dropped
    for a bare backbone. None when it does not apply (see :func:`check_shapes`)."""
    if not all(k in sd for k in signature):
        return None
    found = locate(model, backbone_type)
    if found is None:
        return None
    _, prefix, head_prefix = found
    out = {}
    for k, v in sd.items():
        if k.startswith(head):
            if head_prefix is not None:
                out[head_prefix + head_rename(k)] = v
            continue
        new = rename(k)
        if new is None:
            return None
        out[prefix + new] = v
    return check_shapes(out, model)

"""Shared by the issue-16 family tests: a shipped config built on the meta device and counted."""
from __future__ import annotations

import torch
from torch import nn

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.tools.complexity import get_model_complexity


def count_config(config: str, size: int = 224) -> tuple[nn.Module, int, int]:
    """(model, parameters, MACs at ``size`` px) of a shipped config, without allocating weights."""
    with torch.device('meta'):
        model = build_model_from_cfg(Config.fromfile(config).model_cfg())
    result = get_model_complexity(model, (3, size, size))
    return model, result['params'], result['macs']


def assert_converts(ref: nn.Module, ours: nn.Module, x: torch.Tensor, source: str = 'timm') -> None:
    """``ref``'s weights load into ``ours`` strictly through the ``source`` converter and give its logits
    within 1e-4 (large enough, > 0.05, for that to mean something)."""
    from fovea.convert import load_weights
    report = load_weights(ours, ref.state_dict(), strict=True, log=False)
    assert report.source == source
    with torch.no_grad():
        want, got = ref.eval()(x), ours.eval()(x, mode='tensor')
    assert got.shape == want.shape
    assert want.abs().max() > 0.05 and (got - want).abs().max() < 1e-4


def assert_converted_logits(ref: nn.Module, ours: nn.Module, source: str = 'timm', size: int = 64) -> None:
    """``ref``'s state dict loads strictly into ``ours`` through the ``source`` converter, and the logits agree
    within 1e-4 (relative to their scale where that exceeds 1)."""
    from fovea.convert import load_weights
    assert load_weights(ours, ref.state_dict(), strict=True, log=False).source == source
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want, got = ref(x), ours(x, mode='tensor')
    assert want.abs().max() > 0.05, 'reference logits too small for a meaningful comparison'
    assert (got - want).abs().max() < 1e-4 * max(1., want.abs().max().item())

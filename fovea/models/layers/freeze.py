"""Helpers for backbones' ``frozen_stages`` and ``norm_eval`` options."""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['freeze_module', 'set_bn_eval']


def freeze_module(module: nn.Module) -> None:
    """Put ``module`` in eval mode and stop gradients to its parameters."""
    module.eval()
    for p in module.parameters():
        p.requires_grad = False


def set_bn_eval(module: nn.Module) -> None:
    """Eval mode for every batch norm below ``module`` (frozen running statistics)."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()

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

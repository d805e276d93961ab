"""LoRA: low-rank adaptation of a frozen model (Hu et al., "LoRA: Low-Rank Adaptation of Large
Language Models", ICLR 2022, arXiv:2106.09685), as MMPretrain's ``LoRAModel`` configures it.

Chosen ``nn.Linear`` layers ``y = W0 x`` become ``y = W0 x + (alpha / rank) * B A dropout(x)`` with
``A`` (``lora_down``, rank x in) Kaiming-uniform and ``B`` (``lora_up``, out x rank) zero, so the
wrapped model starts exactly where the pretrained one was. Only ``A`` and ``B`` train, and only they
are saved: the state dict of a ``LoRAModel`` holds the ``.lora_`` tensors (MMPretrain's checkpoint
layout), the frozen weights come from the wrapped module's ``init_cfg`` (``Pretrained``), which is
applied when the ``LoRAModel`` is built.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

import torch
from torch import nn

from fovea.models.base import BaseModule
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['LoRALinear', 'LoRAModel']


class LoRALinear(nn.Module):
    """``original_layer(x) + lora_up(lora_down(dropout(x))) * alpha / rank``."""

    def __init__(self, original_layer: nn.Linear, alpha: float = 1, rank: int = 0, drop_rate: float = 0.):
        super().__init__()
        if rank < 1:
            raise ConfigError(f'LoRA rank must be a positive integer, got {rank!r}')
        self.original_layer = original_layer
        self.lora_dropout = nn.Dropout(drop_rate)
        self.lora_down = nn.Linear(original_layer.in_features, rank, bias=False)
        self.lora_up = nn.Linear(rank, original_layer.out_features, bias=False)
        self.scaling = alpha / rank
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        dev, dtype = original_layer.weight.device, original_layer.weight.dtype
        self.lora_down.to(dev, dtype)
        self.lora_up.to(dev, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.original_layer(x) + self.lora_up(self.lora_down(self.lora_dropout(x))) * self.scaling

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (in eval mode): ``W0 + s * B A``."""
        src = self.original_layer
        out = nn.Linear(src.in_features, src.out_features, bias=src.bias is not None,
                        device=src.weight.device, dtype=src.weight.dtype)
        out.weight.copy_(src.weight + self.scaling * (self.lora_up.weight @ self.lora_down.weight))
        if src.bias is not None:
            out.bias.copy_(src.bias)
        return out


@MODELS.register_module()
class LoRAModel(BaseModule):
    """Wrap ``module`` (a config) and adapt its linear layers named by ``targets`` with LoRA.

    Args:
        module: config of the model to adapt (e.g. a ``VisionTransformer`` with
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone')``). It is built and
            initialised here, before its layers are replaced.
        alpha / rank / drop_rate: LoRA's scale numerator, rank and dropout on the LoRA branch.
        targets: ``[dict(type=pattern, alpha=..., rank=..., drop_rate=...)]``; a layer is adapted when
            its name (relative to ``module``) matches ``pattern`` as a full regular expression or
            ends with it (``'qkv'``, ``'.*attn.proj'``). Per-target values override the defaults.

    Everything not LoRA is frozen (``requires_grad=False``); attributes the wrapper does not have
    (``out_indices``, ``get_layer_depth``, ...) are the wrapped module's.
    """

    def __init__(self, module: dict, alpha: float = 1, rank: int = 0, drop_rate: float = 0.,
                 targets: Sequence[dict] = (), init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if not targets:
            raise ConfigError('LoRAModel needs at least one target, e.g. targets=[dict(type="qkv")].')
        for i, t in enumerate(targets):
            if not isinstance(t, dict) or not isinstance(t.get('type'), str):
                raise ConfigError(f'LoRAModel targets[{i}] must be a dict with a "type" pattern, got {t!r}')
        self.module = MODELS.build(module, key='module')
        if hasattr(self.module, 'init_weights'):
            self.module.init_weights()
        self.alpha, self.rank, self.drop_rate = alpha, rank, drop_rate
        self.targets = [dict(t) for t in targets]
        replaced = self._apply_lora()
        if not replaced:
            linears = [n for n, m in self.module.named_modules() if isinstance(m, nn.Linear)]
            raise ConfigError(
                f'LoRAModel targets {[t["type"] for t in self.targets]} match no nn.Linear layer of '
                f'{type(self.module).__name__}; its linear layers are named like {linears[:4]}.')
        self.replaced = replaced
        for name, p in self.named_parameters():
            p.requires_grad = '.lora_' in name
        self._register_state_dict_hook(_keep_lora_entries)
        self._register_load_state_dict_pre_hook(self._keep_frozen_weights)

    def _apply_lora(self) -> list[str]:
        replaced = []
        for name, layer in list(self.module.named_modules()):
            if not isinstance(layer, nn.Linear) or not name:
                continue
            for t in self.targets:
                pattern = t['type']
                if re.fullmatch(pattern, name) or name.endswith(pattern):
                    parent_name, _, attr = name.rpartition('.')
                    parent = self.module.get_submodule(parent_name) if parent_name else self.module
                    setattr(parent, attr, LoRALinear(layer, t.get('alpha', self.alpha), t.get('rank', self.rank),
                                                     t.get('drop_rate', self.drop_rate)))
                    replaced.append(name)
                    break
        return replaced

    def _keep_frozen_weights(self, state_dict: dict, prefix: str, *args: Any) -> None:
        # a LoRA checkpoint holds only the LoRA tensors: the frozen ones keep their (pretrained)
        # values instead of being reported missing; LoRA tensors missing from it still are
        frozen = [*self.named_parameters(), *self.named_buffers()]
        for key, value in frozen:
            if '.lora_' not in key and prefix + key not in state_dict:
                state_dict[prefix + key] = value.detach()

    def init_weights(self) -> None:
        """Nothing to do: the wrapped module was initialised (pretrained weights loaded) when built,
        and LoRA's own matrices at construction; re-running a parent's initialisers here would undo both."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def merge_lora(self) -> nn.Module:
        """Fold every LoRA branch into its linear layer in place; returns the wrapped module, now plain."""
        for name, layer in list(self.module.named_modules()):
            if isinstance(layer, LoRALinear):
                parent_name, _, attr = name.rpartition('.')
                parent = self.module.get_submodule(parent_name) if parent_name else self.module
                setattr(parent, attr, layer.merged())
        return self.module

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            module = super().__getattr__('module')
            return getattr(module, name)


def _keep_lora_entries(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix) and '.lora_' not in k]:
        del state_dict[key]



"""Averaged copies of a model: EMA of the weights and EMA with a momentum warm-up.

EMA follows MMEngine's convention: ``momentum`` is the weight of the *new* value,
``avg <- (1 - momentum) * avg + momentum * param`` (timm's ``decay`` is ``1 - momentum``).
``MomentumAnnealingEMA`` warms up with ``momentum_t = max(momentum, gamma / (gamma + t))`` so
early, far-from-converged weights are forgotten quickly. They serve the EMA hook
(``fovea.engine.ema.EMAHook``) and momentum encoders (a model that owns an averaged copy of its
backbone and calls ``update_parameters`` from ``after_optimizer_step``).

EMA of weights: Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", 1992.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['BaseAveragedModel', 'ExponentialMovingAverage', 'MomentumAnnealingEMA', 'CosineEMA']


class BaseAveragedModel(nn.Module):
    """A copy of ``model`` whose parameters (and buffers when ``update_buffers``) are averaged.

    Every ``interval``-th call of :meth:`update_parameters` folds the source weights in with
    :meth:`avg_func`; the first call copies them. Without ``update_buffers`` the buffers (BN
    running statistics) are copied from the source on every call.
    """

    def __init__(self, model: nn.Module, interval: int = 1, device: torch.device | str | None = None,
                 update_buffers: bool = False):
        super().__init__()
        if interval < 1:
            raise ConfigError(f'EMA interval must be >= 1, got {interval}')
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.interval = interval
        if device is not None:
            self.module.to(device)
        self.register_buffer('steps', torch.tensor(0, dtype=torch.long, device=device))
        self.update_buffers = update_buffers
        self._py_steps: int | None = 0  # host mirror of `steps`: no device sync per update

    @property
    def avg_parameters(self) -> dict[str, torch.Tensor]:
        """The averaged tensors by name, looked up on each call (FSDP replaces the parameters of a
        module it shards, so references kept from construction would go stale)."""
        return (dict(self.module.state_dict(keep_vars=True)) if self.update_buffers
                else dict(self.module.named_parameters()))

    def num_updates(self) -> int:
        """How many times :meth:`update_parameters` ran (from the host mirror: no device sync,
        except once after a state dict was loaded)."""
        return self._py_steps if self._py_steps is not None else int(self.steps)

    def restart(self) -> None:
        """Forget the updates so far: the next :meth:`update_parameters` copies the source again."""
        self.steps.zero_()
        self._py_steps = 0

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        raise NotImplementedError

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        src = model.state_dict(keep_vars=True) if self.update_buffers else dict(model.named_parameters())
        steps = self.num_updates()
        avg = self.avg_parameters
        if steps == 0:
            for k, p in avg.items():
                p.data.copy_(src[k].data)
        elif steps % self.interval == 0:
            floats = [(p.data, src[k].data.to(p.device)) for k, p in avg.items()
                      if p.dtype.is_floating_point]
            self.avg_many(floats, steps)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1
        self._py_steps = steps + 1

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._py_steps = None  # re-read from the loaded buffer at the next update

    def avg_many(self, pairs: list[tuple[torch.Tensor, torch.Tensor]], steps: int) -> None:
        for avg, src in pairs:
            self.avg_func(avg, src, steps)


@MODELS.register_module()
class ExponentialMovingAverage(BaseAveragedModel):
    """``avg <- (1 - momentum) * avg + momentum * param`` (MMEngine's ExponentialMovingAverage)."""

    def __init__(self, model: nn.Module, momentum: float = 0.0002, interval: int = 1,
                 device: torch.device | str | None = None, update_buffers: bool = False):
        super().__init__(model, interval, device, update_buffers)
        if not 0. < momentum < 1.:
            raise ConfigError(f'EMA momentum must be in (0, 1), got {momentum}; note fovea/MMEngine momentum is '
                              f'the weight of the new value (timm decay 0.9998 = momentum 0.0002)')
        self.momentum = momentum

    def current_momentum(self, steps: int) -> float:
        return self.momentum

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        averaged.lerp_(source, self.current_momentum(steps))

    def avg_many(self, pairs: list[tuple[torch.Tensor, torch.Tensor]], steps: int) -> None:
        if not pairs:
            return
        m = self.current_momentum(steps)
        avgs, srcs = zip(*pairs)
        torch._foreach_lerp_(list(avgs), list(srcs), m)  # one fused call instead of one per tensor


@MODELS.register_module()
class MomentumAnnealingEMA(ExponentialMovingAverage):
    """EMA with warmup (MMEngine's MomentumAnnealingEMA): ``momentum_t = max(momentum, gamma / (gamma + t))``."""

    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 100, interval: int = 1,
                 device: torch.device | str | None = None, update_buffers: bool = False):
        super().__init__(model, momentum, interval, device, update_buffers)
        if gamma <= 0:
            raise ConfigError(f'MomentumAnnealingEMA gamma must be > 0, got {gamma}')
        self.gamma = gamma

    def current_momentum(self, steps: int) -> float:
        return max(self.momentum, self.gamma / (self.gamma + steps))


@MODELS.register_module()
class CosineEMA(ExponentialMovingAverage):
    """EMA whose momentum (weight of the new value) anneals from ``momentum`` to ``end_momentum``
    along half a cosine over the run (MMPretrain's CosineEMA, BYOL's target network:
    ``m_t = end - (end - momentum) * (cos(pi * t / max_iters) + 1) / 2``).

    ``max_iters`` is the run's number of optimizer steps; the algorithm that owns the average sets it
    from ``after_optimizer_step(step, max_steps)`` (without it the momentum stays at ``momentum``).
    """

    def __init__(self, model: nn.Module, momentum: float = 0.004, end_momentum: float = 0., interval: int = 1,
                 device: torch.device | str | None = None, update_buffers: bool = False):
        super().__init__(model, momentum, interval, device, update_buffers)
        self.end_momentum = end_momentum
        self.max_iters: int | None = None

    def current_momentum(self, steps: int) -> float:
        if not self.max_iters:
            return self.momentum
        anneal = (math.cos(math.pi * min(steps, self.max_iters) / self.max_iters) + 1) / 2
        return self.end_momentum - (self.end_momentum - self.momentum) * anneal

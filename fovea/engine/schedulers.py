"""Parameter schedulers with MMEngine's semantics (LinearLR, CosineAnnealingLR, MultiStepLR, ...).

A scheduler owns a window ``[begin, end)`` of steps (epochs when ``by_epoch``, else
iterations). It steps once at construction (step 0) and once after every
epoch/iteration. Inside its window it updates the parameter in *chainable* form,
as MMEngine does, so schedulers in a list compose (warmup then cosine, or
overlapping ones multiply):

    value <- floor + (value - floor) * ratio(k) / ratio(k - 1)      (k = steps since begin)

Each scheduler defines ``ratio(k)`` (its shape relative to the value at ``begin``)
and ``floor`` (``eta_min`` for cosine/poly, 0 otherwise). The same classes drive
'lr', 'momentum' (``...Momentum``) and 'weight_decay' (``...WeightDecay``).
``convert_to_iter_based=True`` turns an epoch-based config into iterations.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from fovea.registry import PARAM_SCHEDULERS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['ParamScheduler', 'build_param_schedulers', 'INF']

INF = int(1e9)


class ParamScheduler:
    """Base class. Subclasses set ``epoch_keys`` (arguments counted in steps, scaled by
    ``convert_to_iter_based``) and implement :meth:`ratio`."""

    epoch_keys: tuple[str, ...] = ()
    param_name = 'lr'

    def __init__(self, optimizer, param_name: str | None = None, begin: int = 0, end: int = INF,
                 by_epoch: bool = True, last_step: int = -1, verbose: bool = False):
        self.optimizer = optimizer
        if param_name is not None:
            self.param_name = param_name
        if end <= begin:
            raise ConfigError(f'{type(self).__name__}: end ({end}) must be larger than begin ({begin}).')
        self.begin, self.end, self.by_epoch = begin, end, by_epoch
        self.verbose = verbose
        for g in optimizer.param_groups:
            if self.param_name not in g and not (self.param_name == 'momentum' and 'betas' in g):
                # (Adam-style optimizers have no 'momentum': it is betas[0], see _get/_set)
                raise ConfigError(f'{type(self).__name__} schedules {self.param_name!r}, which the optimizer '
                                  f'{type(optimizer).__name__} does not have.')
            g.setdefault(f'initial_{self.param_name}', self._get(g))
        self.base_values = [g[f'initial_{self.param_name}'] for g in optimizer.param_groups]
        self.global_step = -1  # steps taken overall
        self.last_step = last_step  # steps taken inside the window
        self.step()

    # ---- value access (momentum lives in betas[0] for Adam-style optimizers)
    def _get(self, group: dict) -> float:
        if self.param_name == 'momentum' and 'momentum' not in group and 'betas' in group:
            return group['betas'][0]
        return group[self.param_name]

    def _set(self, group: dict, value: float) -> None:
        if self.param_name == 'momentum' and 'momentum' not in group and 'betas' in group:
            group['betas'] = (value, *group['betas'][1:])
        else:
            group[self.param_name] = value

    # ---- the schedule
    def ratio(self, k: int) -> float:
        raise NotImplementedError

    def floor(self, base: float) -> float:
        return 0.

    def step(self) -> None:
        self.global_step += 1
        if not self.begin <= self.global_step < self.end:
            return
        self.last_step += 1
        k = self.last_step
        for group, base in zip(self.optimizer.param_groups, self.base_values):
            new = self.next_value(k, self._get(group), base, group)
            self._set(group, new)
            if self.verbose:
                print(f'{type(self).__name__}: step {self.global_step}: {self.param_name}={new:.4e}')

    def next_value(self, k: int, cur: float, base: float, group: dict) -> float:
        """The value at window step ``k`` given the current value (chainable form by default)."""
        lo = self.floor(base)
        prev = self.ratio(k - 1) if k > 0 else 1.
        if prev == 0:  # restart from the closed form when the chain hits zero
            return lo + (base - lo) * self.ratio(k)
        return lo + (cur - lo) * self.ratio(k) / prev

    def get_last_value(self) -> list[float]:
        return [self._get(g) for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != 'optimizer'}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @classmethod
    def build_iter_from_epoch(cls, optimizer, epoch_length: int, begin: int = 0, end: int = INF,
                              by_epoch: bool = True, **kwargs: Any) -> 'ParamScheduler':
        """The same schedule counted in iterations (``convert_to_iter_based``)."""
        if not by_epoch:
            raise ConfigError(f'{cls.__name__}: convert_to_iter_based needs by_epoch=True')
        for key in cls.epoch_keys:
            if key in kwargs and kwargs[key] is not None:
                v = kwargs[key]
                kwargs[key] = [x * epoch_length for x in v] if isinstance(v, (list, tuple)) else v * epoch_length
        return cls(optimizer, begin=begin * epoch_length, end=end if end == INF else end * epoch_length,
                   by_epoch=False, **kwargs)


class LinearParamScheduler(ParamScheduler):
    """Multiplier moving linearly from ``start_factor`` (at ``begin``) to ``end_factor`` (at ``end - 1``)."""

    def __init__(self, optimizer, start_factor: float = 1. / 3, end_factor: float = 1., **kwargs: Any):
        if not (0 <= start_factor <= 1 and 0 <= end_factor <= 1):
            raise ConfigError(f'LinearLR factors must be in [0, 1], got {start_factor}, {end_factor}')
        self.start_factor, self.end_factor = start_factor, end_factor
        end = kwargs.get('end', INF)
        self.total_iters = end - kwargs.get('begin', 0) - 1
        super().__init__(optimizer, **kwargs)

    def ratio(self, k: int) -> float:
        if self.total_iters <= 0:
            return self.end_factor
        t = min(k, self.total_iters) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * t


class ConstantParamScheduler(ParamScheduler):
    """Multiplier ``factor`` until ``end``; the value returns to its base at the window's last step."""

    def __init__(self, optimizer, factor: float = 1. / 3, **kwargs: Any):
        if not 0 <= factor <= 1:
            raise ConfigError(f'ConstantLR factor must be in [0, 1], got {factor}')
        self.factor = factor
        self.total_iters = kwargs.get('end', INF) - kwargs.get('begin', 0) - 1
        super().__init__(optimizer, **kwargs)

    def ratio(self, k: int) -> float:
        return 1. if k >= self.total_iters else self.factor


class CosineAnnealingParamScheduler(ParamScheduler):
    """Half cosine from the value at ``begin`` down to ``eta_min`` (or ``eta_min_ratio * base``) over ``T_max``."""
    epoch_keys = ('T_max',)

    def __init__(self, optimizer, T_max: int | None = None, eta_min: float | None = None,
                 eta_min_ratio: float | None = None, **kwargs: Any):
        if eta_min is not None and eta_min_ratio is not None:
            raise ConfigError('CosineAnnealing: give eta_min or eta_min_ratio, not both')
        end = kwargs.get('end', INF)
        self.T_max = T_max if T_max is not None else end - kwargs.get('begin', 0)
        if self.T_max >= INF // 2:
            raise ConfigError('CosineAnnealing needs T_max or a finite end')
        self.eta_min, self.eta_min_ratio = (eta_min or 0.), eta_min_ratio
        super().__init__(optimizer, **kwargs)

    def floor(self, base: float) -> float:
        return base * self.eta_min_ratio if self.eta_min_ratio is not None else self.eta_min

    def ratio(self, k: int) -> float:
        return (1 + math.cos(math.pi * k / self.T_max)) / 2


class MultiStepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` at each milestone (steps since ``begin``)."""
    epoch_keys = ('milestones',)

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1, **kwargs: Any):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, **kwargs)

    def ratio(self, k: int) -> float:
        return self.gamma ** sum(1 for m in self.milestones if m <= k)


class StepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every ``step_size`` steps."""
    epoch_keys = ('step_size',)

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, **kwargs: Any):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, **kwargs)

    def ratio(self, k: int) -> float:
        return self.gamma ** (k // self.step_size)


class ExponentialParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every step."""

    def __init__(self, optimizer, gamma: float, **kwargs: Any):
        self.gamma = gamma
        super().__init__(optimizer, **kwargs)

    def ratio(self, k: int) -> float:
        return self.gamma ** k


class PolyParamScheduler(ParamScheduler):
    """Polynomial decay to ``eta_min`` over the window: ``(1 - k / total) ** power``."""

    def __init__(self, optimizer, eta_min: float = 0., power: float = 1., **kwargs: Any):
        self.eta_min, self.power = eta_min, power
        self.total_iters = kwargs.get('end', INF) - kwargs.get('begin', 0) - 1
        super().__init__(optimizer, **kwargs)

    def floor(self, base: float) -> float:
        return self.eta_min

    def ratio(self, k: int) -> float:
        if self.total_iters <= 0:  # a one-step window: its only step keeps the starting value
            return 1.0
        return max(0., 1 - min(k, self.total_iters) / self.total_iters) ** self.power


class OneCycleParamScheduler(ParamScheduler):
    """The 1cycle policy (Smith & Topin, "Super-Convergence", arXiv:1708.07120), MMEngine's OneCycleLR.

    The value rises from ``eta_max / div_factor`` to ``eta_max`` over the first ``pct_start`` of
    ``total_steps`` and anneals (cosine or linear) to ``eta_max / div_factor / final_div_factor``;
    ``three_phase=True`` comes back down to the initial value symmetrically before the final anneal.
    Not chainable: it sets the value from its closed form. ``total_steps`` defaults to
    ``epochs * steps_per_epoch``, else to the window length ``end - begin``; like MMEngine,
    ``convert_to_iter_based`` scales ``begin``/``end`` but not ``total_steps``.
    """

    def __init__(self, optimizer, eta_max: float | Sequence[float] = 0., total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = 'cos', div_factor: float = 25., final_div_factor: float = 1e4,
                 three_phase: bool = False, **kwargs: Any):
        name = type(self).__name__
        if total_steps is None:
            if epochs is not None or steps_per_epoch is not None:
                if not (isinstance(epochs, int) and epochs > 0 and isinstance(steps_per_epoch, int)
                        and steps_per_epoch > 0):
                    raise ConfigError(f'{name}: epochs and steps_per_epoch must be positive integers, '
                                      f'got {epochs}, {steps_per_epoch}')
                total_steps = epochs * steps_per_epoch
            else:
                total_steps = kwargs.get('end', INF) - kwargs.get('begin', 0)
                if total_steps >= INF // 2:
                    raise ConfigError(f'{name} needs total_steps (or epochs and steps_per_epoch, or a finite end)')
        if not isinstance(total_steps, int) or total_steps <= 1:
            raise ConfigError(f'{name}: total_steps must be an integer > 1, got {total_steps!r}')
        if not 0 <= pct_start <= 1:
            raise ConfigError(f'{name}: pct_start must be in [0, 1], got {pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ConfigError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        p = float(pct_start * total_steps)
        # (last step of the phase, start key, end key), as torch/MMEngine
        self.phases = ([(p - 1, 'initial', 'max'), (2 * p - 2, 'max', 'initial'), (total_steps - 1, 'initial', 'min')]
                       if three_phase else [(p - 1, 'initial', 'max'), (total_steps - 1, 'max', 'min')])
        param = kwargs.get('param_name') or self.param_name
        maxes = list(eta_max) if isinstance(eta_max, (list, tuple)) else [eta_max] * len(optimizer.param_groups)
        if len(maxes) != len(optimizer.param_groups):
            raise ConfigError(f'{name}: eta_max has {len(maxes)} values for {len(optimizer.param_groups)} '
                              f'parameter groups')
        if kwargs.get('last_step', -1) == -1:
            for g, m in zip(optimizer.param_groups, maxes):
                g[f'initial_{param}'] = m / div_factor
                g[f'max_{param}'] = m
                g[f'min_{param}'] = m / div_factor / final_div_factor
        super().__init__(optimizer, **kwargs)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == 'cos':
            return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
        return start + (end - start) * pct

    def next_value(self, k: int, cur: float, base: float, group: dict) -> float:
        if k > self.total_steps:
            raise ConfigError(f'{type(self).__name__} stepped {k + 1} times but total_steps is '
                              f'{self.total_steps}; set end (or total_steps) to cover the run.')
        start = 0.
        for i, (last, a, b) in enumerate(self.phases):
            if k <= last or i == len(self.phases) - 1:
                span = last - start
                pct = (k - start) / span if span > 0 else 1.
                return self._anneal(group[f'{a}_{self.param_name}'], group[f'{b}_{self.param_name}'], pct)
            start = last
        raise AssertionError('unreachable')


class CosineRestartParamScheduler(ParamScheduler):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, arXiv:1608.03983), MMEngine's
    CosineRestartLR: period ``i`` starts at ``base * restart_weights[i]`` and anneals to ``eta_min``
    (or ``eta_min_ratio * base``) over ``periods[i]`` steps; after the last period the value is left alone."""
    epoch_keys = ('periods',)

    def __init__(self, optimizer, periods: Sequence[int], restart_weights: Sequence[float] = (1,),
                 eta_min: float | None = None, eta_min_ratio: float | None = None, **kwargs: Any):
        name = type(self).__name__
        if (eta_min is None) == (eta_min_ratio is None):
            raise ConfigError(f'{name}: give exactly one of eta_min or eta_min_ratio')
        if len(periods) != len(restart_weights):
            raise ConfigError(f'{name}: periods ({len(periods)}) and restart_weights ({len(restart_weights)}) '
                              f'must have the same length')
        if any(p < 1 for p in periods):
            raise ConfigError(f'{name}: periods must be positive, got {list(periods)}')
        self.periods, self.restart_weights = list(periods), list(restart_weights)
        self.eta_min, self.eta_min_ratio = eta_min, eta_min_ratio
        self.cumulative_periods = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, **kwargs)

    def floor(self, base: float) -> float:
        return base * self.eta_min_ratio if self.eta_min_ratio is not None else self.eta_min

    def next_value(self, k: int, cur: float, base: float, group: dict) -> float:
        idx = next((i for i, c in enumerate(self.cumulative_periods) if k < c), None)
        if idx is None:
            return cur
        t = k - (self.cumulative_periods[idx - 1] if idx else 0)
        period, lo = self.periods[idx], self.floor(base)
        if t == 0:
            return base * self.restart_weights[idx]
        prev = 1 + math.cos(math.pi * (t - 1) / period)
        return lo + (cur - lo) * (1 + math.cos(math.pi * t / period)) / prev


#: registered name prefix -> shape; each is registered for lr, momentum and weight decay
_SHAPES = {
    'Linear': LinearParamScheduler, 'Constant': ConstantParamScheduler,
    'CosineAnnealing': CosineAnnealingParamScheduler, 'MultiStep': MultiStepParamScheduler,
    'Step': StepParamScheduler, 'Exponential': ExponentialParamScheduler, 'Poly': PolyParamScheduler,
    'CosineRestart': CosineRestartParamScheduler, 'OneCycle': OneCycleParamScheduler,
}
_PARAMS = {'LR': 'lr', 'Momentum': 'momentum', 'WeightDecay': 'weight_decay'}

for _shape, _cls in _SHAPES.items():
    PARAM_SCHEDULERS.register_module(name=f'{_shape}ParamScheduler', module=_cls)
    for _suffix, _param in _PARAMS.items():
        if _shape == 'OneCycle' and _param != 'lr':
            continue  # MMEngine's 1cycle drives the learning rate only
        _sub = type(f'{_shape}{_suffix}', (_cls,), {'param_name': _param, '__doc__': _cls.__doc__})
        PARAM_SCHEDULERS.register_module(module=_sub)
        globals()[_sub.__name__] = _sub
        __all__.append(_sub.__name__)


def build_param_schedulers(cfgs: dict | Sequence[dict] | None, optimizer, epoch_length: int | None = None,
                           max_epochs: int | None = None, max_iters: int | None = None) -> list[ParamScheduler]:
    """Build the ``param_scheduler`` list for ``optimizer`` (epoch_length for convert_to_iter_based).

    A scheduler without ``end`` runs to the end of training (``max_epochs`` or ``max_iters``,
    by its ``by_epoch``), as MMEngine's Runner does.
    """
    if not cfgs:
        return []
    cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs)
    out = []
    with key_scope('param_scheduler'):
        for i, cfg in enumerate(cfgs):
            cfg = dict(cfg)
            if 'end' not in cfg:
                default_end = max_epochs if cfg.get('by_epoch', True) else max_iters
                if default_end is not None:
                    cfg['end'] = default_end
            if cfg.pop('convert_to_iter_based', False):
                if not epoch_length:
                    raise ConfigError(f'param_scheduler.{i}: convert_to_iter_based needs an epoch-based loop')
                with key_scope(str(i)):
                    cls = PARAM_SCHEDULERS.get(cfg.pop('type')) if isinstance(cfg['type'], str) else cfg.pop('type')
                    out.append(cls.build_iter_from_epoch(optimizer, epoch_length, **cfg))
            else:
                out.append(build(cfg, PARAM_SCHEDULERS, key=str(i), optimizer=optimizer))
    return out


def simulate_param_schedule(optim_cfg: dict, sched_cfgs: dict | Sequence[dict] | None, epoch_length: int,
                            max_epochs: int | None = None, max_iters: int | None = None,
                            keys: Sequence[str] = ('lr', 'momentum', 'weight_decay')) -> dict[str, list[float]]:
    """The values the optimizer's first parameter group sees at every training iteration.

    Steps the schedulers exactly as ``ParamSchedulerHook`` does during training (iteration-based
    ones after every iteration, epoch-based ones after every epoch), on a one-parameter optimizer
    built from ``optim_cfg`` (the ``optim_wrapper`` config). Returns ``{'lr': [...], ...}`` with
    one entry per iteration for each of ``keys`` the optimizer has (momentum: ``betas[0]`` for Adam).
    """
    import torch

    from fovea.registry import OPTIMIZERS
    if epoch_length < 1:
        raise ConfigError(f'epoch_length must be >= 1, got {epoch_length}')
    opt_cfg = dict(optim_cfg.get('optimizer', optim_cfg))
    with key_scope('optim_wrapper'):
        optimizer = build(opt_cfg, OPTIMIZERS, key='optimizer', params=[torch.nn.Parameter(torch.zeros(1))])
    total = max_iters if max_iters is not None else (max_epochs or 0) * epoch_length
    if total < 1:
        raise ConfigError('simulate_param_schedule needs max_epochs or max_iters')
    scheds = build_param_schedulers(sched_cfgs, optimizer, epoch_length, max_epochs=max_epochs,
                                    max_iters=total)
    group = optimizer.param_groups[0]
    present = [k for k in keys if k in group or (k == 'momentum' and 'betas' in group)]
    out: dict[str, list[float]] = {k: [] for k in present}
    for it in range(total):
        for k in present:
            out[k].append(float(group['betas'][0] if k == 'momentum' and 'momentum' not in group else group[k]))
        for s in scheds:
            if not s.by_epoch:
                s.step()
        if (it + 1) % epoch_length == 0:
            for s in scheds:
                if s.by_epoch:
                    s.step()
    return out

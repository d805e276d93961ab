"""Optimizer wrappers: precision (autocast, loss scaling), gradient accumulation and clipping.

``OptimWrapper.update_params(loss)`` is one micro-step: it scales the loss for
accumulation, runs backward, and every ``accumulative_counts`` micro-steps clips
gradients, steps the optimizer and zeroes gradients; it returns whether the
weights changed (False on micro-steps and on skipped non-finite steps). ``optim_context(model)``
enters autocast for the chosen precision and, under DistributedDataParallel,
skips the gradient all-reduce on micro-steps that do not update.

Precision: ``'fp32'``, ``'bf16'`` (autocast, no scaling needed) or ``'fp16'``
(autocast + dynamic loss scaling). ``'auto'`` picks bf16 where the hardware runs
it natively (CUDA with bf16; CPUs with AVX512-BF16 or AMX), else fp32.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import torch
from torch import nn

from fovea.registry import OPTIM_WRAPPERS, OPTIMIZERS

__all__ = ['OptimWrapper', 'AmpOptimWrapper', 'resolve_precision', 'model_precision', 'bf16_supported',
           'autocast']

logger = logging.getLogger('fovea')

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


def _register_torch_optimizers() -> None:
    for name in dir(torch.optim):
        obj = getattr(torch.optim, name)
        if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            if name not in OPTIMIZERS._modules:
                OPTIMIZERS.register_module(name=name, module=obj)


_register_torch_optimizers()


def bf16_supported(device_type: str) -> bool:
    """Whether bf16 autocast runs natively (not emulated) on this device type."""
    if device_type == 'cuda':
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == 'cpu':
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(precision: str, device_type: str) -> str:
    """Turn 'auto' into the concrete precision for the device; validate the others."""
    aliases = {'float32': 'fp32', 'bfloat16': 'bf16', 'float16': 'fp16', 'amp': 'fp16'}
    precision = aliases.get(precision, precision)
    if precision not in PRECISIONS:
        from fovea.utils.errors import ConfigError
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == 'auto':
        return 'bf16' if bf16_supported(device_type) else 'fp32'
    if precision == 'fp16' and device_type == 'cpu':
        logger.warning('fp16 autocast on CPU is slow and needs loss scaling; using bf16 instead' if
                       bf16_supported('cpu') else 'fp16 autocast on CPU is not supported well; using fp32')
        return 'bf16' if bf16_supported('cpu') else 'fp32'
    return precision


def model_precision(requested: str, device_type: str, num_params: int) -> tuple[str, str]:
    """The precision a model of ``num_params`` parameters runs in, and a note saying why when 'auto' chose
    it: as :func:`resolve_precision`, except that 'auto' keeps a small model in fp32 (it has too little
    arithmetic for bf16 to save, and autocast's casts cost more: LeNet-5 on CPU is 4-9x slower in bf16)."""
    from fovea.utils.threads import SMALL_MODEL_PARAMS
    precision = resolve_precision(requested, device_type)
    if requested == 'auto' and precision != 'fp32' and num_params < SMALL_MODEL_PARAMS:
        return 'fp32', f' (auto: small model, {num_params / 1e6:.2g}M parameters)'
    return precision, ''


def autocast(precision: str, device_type: str):
    """The autocast context of a resolved precision ('fp32': none), for training, evaluation and the tools."""
    if precision == 'fp32':
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=_DTYPES[precision])


@OPTIM_WRAPPERS.register_module()
class OptimWrapper:
    """Wraps an optimizer (MMEngine's OptimWrapper arguments).

    Args:
        optimizer: a built optimizer.
        accumulative_counts: micro-steps per optimizer step (gradient accumulation).
        clip_grad: e.g. ``dict(max_norm=5.0)`` (norm clipping, optional ``norm_type``) or
            ``dict(type='value', clip_value=1.0)``.
        precision: 'auto', 'fp32', 'bf16' or 'fp16'.
        device_type: 'cpu' or 'cuda' (set by the Runner).
        skip_nonfinite: skip the optimizer step (and drop the gradients) when any gradient is NaN
            or Inf, instead of letting the weights become NaN; the Runner then warns at the next
            logging interval and stops only when no step of a whole interval succeeded. Costs one
            host sync per optimizer step (as fp16 loss scaling does, which skips such steps anyway).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, accumulative_counts: int = 1,
                 clip_grad: dict | None = None, precision: str = 'fp32', device_type: str = 'cpu',
                 skip_nonfinite: bool = False):
        if accumulative_counts < 1:
            raise ValueError(f'accumulative_counts must be >= 1, got {accumulative_counts}')
        self.optimizer = optimizer
        self.accumulative_counts = accumulative_counts
        self.clip_grad = dict(clip_grad) if clip_grad else None
        self.device_type = device_type
        self.precision = resolve_precision(precision, device_type)
        self.scaler = torch.amp.GradScaler(device_type) if self.precision == 'fp16' else None
        self._inner_count = 0
        self.last_grad_norm: torch.Tensor | None = None
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_steps = 0          # optimizer steps skipped for non-finite gradients, in total
        self.consecutive_skips = 0      # ... since the last step that was taken
        self.max_steps: int | None = None  # optimizer steps of the whole run (set by the Runner)

    # ---- the step
    @property
    def should_update(self) -> bool:
        return (self._inner_count + 1) % self.accumulative_counts == 0

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        sync = contextlib.nullcontext()
        if not self.should_update and hasattr(model, 'no_sync'):
            sync = model.no_sync()
        with sync, self.autocast():
            yield

    def autocast(self):
        return autocast(self.precision, self.device_type)

    @property
    def step_count(self) -> int:
        """Optimizer steps so far, skipped ones included (restored on resume with ``inner_count``)."""
        return self._inner_count // self.accumulative_counts

    def update_params(self, loss: torch.Tensor, whole_batch: bool = False) -> bool:
        """Backward, and every ``accumulative_counts`` calls an optimizer step. Returns whether the
        weights were updated. The loss is divided by ``accumulative_counts`` (the mean of the micro-batch
        losses) unless ``whole_batch``: then it is the loss of the whole accumulated batch, backpropagated
        through one micro-batch at a time (feature-cached accumulation, ``models/utils/feature_cache.py``)."""
        if not whole_batch:
            loss = loss / self.accumulative_counts
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        self._inner_count += 1
        if self._inner_count % self.accumulative_counts != 0:
            return False
        stepped = self.step()
        self.zero_grad()
        return stepped

    def step(self) -> bool:
        """Unscale, clip and step; returns False when the step was skipped for non-finite gradients."""
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.clip_grad:
            self.last_grad_norm = self._clip()
        if self.skip_nonfinite and self.scaler is None and not self._grads_finite():
            self.skipped_steps += 1
            self.consecutive_skips += 1
            return False
        self.consecutive_skips = 0
        if self.scaler is not None:
            scale = self.scaler.get_scale()  # GradScaler.step syncs on its inf check anyway
            self.scaler.step(self.optimizer)
            self.scaler.update()
            return self.scaler.get_scale() >= scale  # the scale shrinks exactly when the step was skipped
        self.optimizer.step()
        return True

    def _grads_finite(self) -> bool:
        """Whether every gradient is finite (one reduction, one host sync). Under DDP the gradients
        are already averaged over ranks, so every rank takes the same decision."""
        if self.last_grad_norm is not None and self.clip_grad and self.clip_grad.get('type', 'norm') == 'norm':
            return bool(torch.isfinite(self.last_grad_norm))
        grads = [p.grad for g in self.optimizer.param_groups for p in g['params'] if p.grad is not None]
        if not grads:
            return True
        return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))

    def _clip(self) -> torch.Tensor:
        cfg = dict(self.clip_grad)
        kind = cfg.pop('type', 'norm')
        params = [p for g in self.optimizer.param_groups for p in g['params'] if p.grad is not None]
        if kind == 'value':
            torch.nn.utils.clip_grad_value_(params, cfg['clip_value'])
            return torch.tensor(float('nan'))
        return torch.nn.utils.clip_grad_norm_(params, max_norm=cfg['max_norm'], norm_type=cfg.get('norm_type', 2.0))

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    # ---- parameters and state
    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def get_lr(self) -> dict[str, list[float]]:
        return {'lr': [g['lr'] for g in self.param_groups]}

    def state_dict(self) -> dict[str, Any]:
        state = {'optimizer': self.optimizer.state_dict(), 'inner_count': self._inner_count}
        if self.scaler is not None:
            state['loss_scaler'] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state['optimizer'])
        self._inner_count = state.get('inner_count', 0)
        if self.scaler is not None and 'loss_scaler' in state:
            self.scaler.load_state_dict(state['loss_scaler'])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({type(self.optimizer).__name__}, precision={self.precision}, '
                f'accumulative_counts={self.accumulative_counts}, clip_grad={self.clip_grad})')


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """Mixed precision (MMEngine's AmpOptimWrapper): ``dtype`` 'float16' (default, with loss scaling)
    or 'bfloat16'. ``loss_scale`` is accepted for config compatibility ('dynamic' is what fp16 uses)."""

    def __init__(self, optimizer: torch.optim.Optimizer, loss_scale: str | float = 'dynamic',
                 dtype: str | None = None, **kwargs: Any):
        kwargs.pop('precision', None)
        precision = {'bfloat16': 'bf16', 'float16': 'fp16', None: 'fp16'}.get(dtype, dtype)
        super().__init__(optimizer, precision=precision, **kwargs)

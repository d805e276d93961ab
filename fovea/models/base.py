"""Model base classes: weight initialisation from ``init_cfg`` and the model contract.

``BaseModule`` adds MMEngine-style ``init_cfg`` (``Kaiming``, ``Normal``,
``TruncNormal``, ``Xavier``, ``Uniform``, ``Constant``, ``Pretrained``) to
``nn.Module``. ``BaseModel`` is the contract every trainable model follows::

    forward(inputs, data_samples=None, mode='tensor' | 'loss' | 'predict')

and owns its ``data_preprocessor``. ``forward`` dispatches to the methods an
algorithm overrides: ``loss(inputs, data_samples) -> dict``, ``predict(inputs,
data_samples) -> [DataSample]`` and ``_forward(inputs, data_samples)`` (plain
tensors). ``train_step``/``val_step``/``test_step`` are what the Runner calls;
``train_step`` lives here only (a subclass that defines it is refused: its
forward would bypass DistributedDataParallel and gradients would never be
all-reduced). Per-step side effects that must follow the weight update
(momentum encoders, queues, supernet path sampling) go in
``after_optimizer_step(step, max_steps)``, which ``train_step`` calls after
every real optimizer step. See docs/architecture.md, "Training step".
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError

__all__ = ['BaseModule', 'BaseModel', 'initialize']


def _class_names(m: nn.Module) -> set[str]:
    return {c.__name__ for c in type(m).__mro__}


def _fill(module: nn.Module, kind: str, cfg: dict) -> None:
    weight = getattr(module, 'weight', None)
    bias = getattr(module, 'bias', None)
    bias_val = cfg.get('bias', 0.)
    if 'bias_prob' in cfg and cfg['bias_prob'] is not None:
        bias_val = float(-math.log((1 - cfg['bias_prob']) / cfg['bias_prob']))
    if isinstance(weight, torch.Tensor) and weight.requires_grad is not None:
        w = weight.data
        if kind == 'Constant':
            w.fill_(cfg.get('val', 0.))
        elif kind == 'Normal':
            nn.init.normal_(w, cfg.get('mean', 0.), cfg.get('std', 1.))
        elif kind == 'TruncNormal':
            std = cfg.get('std', 1.)
            mean = cfg.get('mean', 0.)
            nn.init.trunc_normal_(w, mean, std, cfg.get('a', -2.) , cfg.get('b', 2.))
        elif kind == 'Uniform':
            nn.init.uniform_(w, cfg.get('a', 0.), cfg.get('b', 1.))
        elif kind == 'Xavier':
            (nn.init.xavier_uniform_ if cfg.get('distribution', 'normal') == 'uniform'
             else nn.init.xavier_normal_)(w, gain=cfg.get('gain', 1.))
        elif kind == 'Kaiming':
            fn = nn.init.kaiming_uniform_ if cfg.get('distribution', 'normal') == 'uniform' else nn.init.kaiming_normal_
            if w.ndim >= 2:
                fn(w, a=cfg.get('a', 0), mode=cfg.get('mode', 'fan_out'),
                   nonlinearity=cfg.get('nonlinearity', 'relu'))
    if isinstance(bias, torch.Tensor):
        bias.data.fill_(bias_val)


_INIT_KINDS = ('Constant', 'Normal', 'TruncNormal', 'Uniform', 'Xavier', 'Kaiming', 'Pretrained')


def initialize(module: nn.Module, init_cfg: dict | Sequence[dict]) -> None:
    """Apply one or several MMEngine-style initialiser configs to ``module``."""
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    for cfg in cfgs:
        cfg = dict(cfg)
        kind = cfg.pop('type')
        kind = {'kaiming': 'Kaiming', 'normal': 'Normal', 'constant': 'Constant'}.get(kind, kind)
        if kind not in _INIT_KINDS:
            raise ConfigError(f'Unknown init_cfg type {kind!r}; choose one of {", ".join(_INIT_KINDS)}.')
        if kind == 'Pretrained':
            if not cfg.get('checkpoint'):
                raise ConfigError(f"init_cfg of {type(module).__name__} is dict(type='Pretrained') with no "
                                  "checkpoint: set its checkpoint to a weights file or URL, or remove the init_cfg.")
            from fovea.models.weights import load_pretrained
            load_pretrained(module, cfg['checkpoint'], prefix=cfg.get('prefix'))
            continue
        layers = cfg.pop('layer', None)
        layers = [layers] if isinstance(layers, str) else layers
        override = cfg.pop('override', None)
        for m in module.modules():
            if layers is None:
                if m is module:
                    _fill(m, kind, cfg)
            elif _class_names(m) & set(layers):
                _fill(m, kind, cfg)
        for ov in ([override] if isinstance(override, dict) else (override or [])):
            ov = dict(ov)
            name = ov.pop('name')
            sub = getattr(module, name, None)
            if sub is None:
                raise ConfigError(f'init_cfg override names {name!r}, which {type(module).__name__} does not have.')
            ov.setdefault('type', kind)
            for k, v in cfg.items():
                ov.setdefault(k, v)
            initialize(sub, ov)


class BaseModule(nn.Module):
    """``nn.Module`` with an optional ``init_cfg`` applied by :meth:`init_weights`."""

    def __init__(self, init_cfg: dict | list[dict] | None = None):
        super().__init__()
        self.init_cfg = init_cfg

    def init_weights(self) -> None:
        """Apply this module's ``init_cfg`` (pretrained loading last), then the children's."""
        cfgs = [] if self.init_cfg is None else ([self.init_cfg] if isinstance(self.init_cfg, dict)
                                                 else list(self.init_cfg))
        plain = [c for c in cfgs if c.get('type') != 'Pretrained']
        pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
        if plain:
            initialize(self, plain)
        for child in self.children():
            _init_children(child)
        if pretrained:
            initialize(self, pretrained)


def _init_children(module: nn.Module) -> None:
    if isinstance(module, BaseModule):
        module.init_weights()
    else:
        for child in module.children():
            _init_children(child)


class BaseModel(BaseModule):
    """A trainable model that owns its data preprocessor.

    Args:
        data_preprocessor: config or module; defaults to a plain
            ``BaseDataPreprocessor`` (move to device, convert to float).
    """

    def __init__(self, data_preprocessor: dict | nn.Module | None = None, init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if data_preprocessor is None:
            data_preprocessor = dict(type='BaseDataPreprocessor')
        self.data_preprocessor = MODELS.build(data_preprocessor, key='data_preprocessor')

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if 'train_step' in cls.__dict__:
            raise TypeError(
                f'{cls.__module__}.{cls.__qualname__} defines train_step. fovea models do not override it: '
                f'the Runner runs the forward pass of BaseModel.train_step through DistributedDataParallel/FSDP, '
                f'and a train_step that calls self(...) skips their gradient all-reduce, so the processes '
                f'silently diverge. Override loss(inputs, data_samples) for what the step computes and '
                f'after_optimizer_step(step, max_steps) for what must follow the weight update (momentum '
                f'encoders, queues, path sampling).')

    def forward(self, inputs: Any, data_samples: list | None = None, mode: str = 'tensor') -> Any:
        """``mode='loss'`` -> :meth:`loss`, ``'predict'`` -> :meth:`predict`, ``'tensor'`` -> :meth:`_forward`.

        The Runner calls the model (through DDP when distributed) with ``mode='loss'`` inside
        :meth:`train_step`; algorithms override the three methods, not this dispatch.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")

    def loss(self, inputs: Any, data_samples: list | None = None) -> dict[str, torch.Tensor]:
        """Losses of a preprocessed batch: a dict whose entries named ``*loss*`` are summed."""
        raise NotImplementedError(f'{type(self).__name__} does not implement loss(inputs, data_samples)')

    def predict(self, inputs: Any, data_samples: list | None = None) -> list:
        """Predictions of a preprocessed batch, one DataSample per input."""
        raise NotImplementedError(f'{type(self).__name__} does not implement predict(inputs, data_samples)')

    def _forward(self, inputs: Any, data_samples: list | None = None) -> Any:
        """Plain network output (``mode='tensor'``), without post-processing."""
        raise NotImplementedError(f'{type(self).__name__} does not implement _forward(inputs, data_samples)')

    def after_optimizer_step(self, step: int, max_steps: int | None = None) -> None:
        """Called by :meth:`train_step` on the unwrapped model right after each optimizer step that
        updated the weights (not after accumulation micro-steps, nor after steps skipped for
        non-finite gradients). ``step`` counts optimizer steps from 1 and survives resume;
        ``max_steps`` is the run's total (None outside a Runner). Does nothing by default.

        State changed here (a momentum encoder's weights, a queue) must live in parameters or
        buffers so that checkpoints carry it. Under DDP every rank calls it with the same, already
        all-reduced weights, so ranks stay in step without communicating.
        """

    @staticmethod
    def parse_losses(losses: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sum every entry whose name contains 'loss'; return it with detached values for logging.

        No host synchronisation happens here: log values stay tensors until a logger reads them.
        """
        log_vars = {}
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                log_vars[name] = value.mean()
            elif isinstance(value, (list, tuple)):
                log_vars[name] = sum(v.mean() for v in value)
            else:
                raise TypeError(f'loss {name!r} is a {type(value).__name__}; losses must be tensors')
        loss = sum(v for k, v in log_vars.items() if 'loss' in k)
        log_vars = {k: v.detach() for k, v in log_vars.items()}
        log_vars['loss'] = loss.detach()
        return loss, log_vars

    def train_step(self, data: dict, optim_wrapper, forward: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """One optimisation step (or one accumulation micro-step) on a collated batch.

        preprocess -> ``forward(mode='loss')`` -> :meth:`parse_losses` -> backward, (every
        ``accumulative_counts`` micro-steps) clip, step, zero_grad -> :meth:`after_optimizer_step`.
        ``forward`` is the module to call: the Runner passes the DistributedDataParallel wrapper of
        this model, so that its gradient all-reduce runs; by default the model itself (one process,
        or FSDP, which shards the model in place).
        """
        forward = forward or self
        cache = getattr(self, 'feature_cache', None)
        if cache is not None and optim_wrapper.accumulative_counts > 1:
            return self._feature_cached_step(data, optim_wrapper, forward, cache)
        with optim_wrapper.optim_context(forward):
            data = self.data_preprocessor(data, True)
            losses = forward(**data, mode='loss')
            loss, log_vars = self.parse_losses(losses)
        if optim_wrapper.update_params(loss):
            self.after_optimizer_step(optim_wrapper.step_count, getattr(optim_wrapper, 'max_steps', None))
        return log_vars

    def _feature_cached_step(self, data: dict, optim_wrapper, forward: nn.Module, cache) -> dict[str, torch.Tensor]:
        """Feature-cached accumulation (``models/utils/feature_cache.py``, open_clip's ``--accum-freq``):
        micro-steps 1..K-1 cache their micro-batch and its ``loss_features`` (no gradient, no backward, empty
        log); the K-th recomputes each micro-batch through ``forward`` (DDP: no_sync but on the last) with
        the others' cached features in its loss, and backpropagates the whole batch's loss each time."""
        with optim_wrapper.autocast():
            data = self.data_preprocessor(data, True)
            device = data['inputs'].device if isinstance(data.get('inputs'), torch.Tensor) else torch.device('cpu')
            cache.add(data, lambda: self.loss_features(**data), device)
        if len(cache) < optim_wrapper.accumulative_counts:
            return {}
        try:
            for index in range(len(cache)):
                with cache.recompute(index, device) as batch, optim_wrapper.optim_context(forward):
                    loss, log_vars = self.parse_losses(forward(**batch, mode='loss'))
                stepped = optim_wrapper.update_params(loss, whole_batch=True)
        finally:
            cache.clear()
        if stepped:
            self.after_optimizer_step(optim_wrapper.step_count, getattr(optim_wrapper, 'max_steps', None))
        return log_vars

    def val_step(self, data: dict) -> list:
        data = self.data_preprocessor(data, False)
        return self(**data, mode='predict')

    def test_step(self, data: dict) -> list:
        return self.val_step(data)

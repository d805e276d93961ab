"""Build an optimizer wrapper from the ``optim_wrapper`` config (MMEngine semantics).

``optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, ...),
paramwise_cfg=dict(...), clip_grad=..., accumulative_counts=..., constructor=...)``.

``paramwise_cfg`` keys: ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult``
(1-D parameters), ``dwconv_decay_mult``, ``bypass_duplicate`` and ``custom_keys``
(``{'pos_embed': dict(decay_mult=0.), 'backbone': dict(lr_mult=0.1)}``: the longest
matching substring of the parameter name wins).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fovea.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['DefaultOptimWrapperConstructor', 'build_optim_wrapper']

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DefaultOptimWrapperConstructor:
    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        cfg = dict(optim_wrapper_cfg)
        if 'optimizer' not in cfg:
            raise ConfigError('optim_wrapper has no optimizer; add optim_wrapper.optimizer=dict(type="SGD", lr=0.1)')
        self.optim_wrapper_cfg = cfg
        self.optimizer_cfg = dict(cfg.pop('optimizer'))
        self.paramwise_cfg = dict(paramwise_cfg or {})
        known = {'norm_decay_mult', 'bias_decay_mult', 'flat_decay_mult', 'dwconv_decay_mult', 'custom_keys',
                 'bypass_duplicate', 'bias_lr_mult'}
        unknown = set(self.paramwise_cfg) - known - self.extra_paramwise_keys()
        if unknown:
            from fovea.utils.errors import did_you_mean
            k = sorted(unknown)[0]
            raise ConfigError(f'Unknown optim_wrapper.paramwise_cfg key {k!r}.{did_you_mean(k, known)}')

    def extra_paramwise_keys(self) -> set[str]:
        """Keys a subclass adds to paramwise_cfg."""
        return set()

    def param_multipliers(self, name: str, param: nn.Parameter, module: nn.Module) -> dict[str, float]:
        """lr_mult / decay_mult for one parameter."""
        pc = self.paramwise_cfg
        custom = pc.get('custom_keys', {})
        matches = [k for k in custom if k in name]
        if matches:
            key = max(matches, key=len)
            return {'lr_mult': custom[key].get('lr_mult', 1.), 'decay_mult': custom[key].get('decay_mult', 1.)}
        lr_mult, decay_mult = 1., 1.
        is_bias = name.endswith('.bias') or name == 'bias'
        if is_bias and 'bias_lr_mult' in pc:
            lr_mult = pc['bias_lr_mult']
        if isinstance(module, _NORMS) and 'norm_decay_mult' in pc:
            decay_mult = pc['norm_decay_mult']
        elif is_bias and 'bias_decay_mult' in pc:
            decay_mult = pc['bias_decay_mult']
        elif param.ndim == 1 and 'flat_decay_mult' in pc:
            decay_mult = pc['flat_decay_mult']
        elif (isinstance(module, nn.Conv2d) and module.groups == module.in_channels > 1
              and 'dwconv_decay_mult' in pc):
            decay_mult = pc['dwconv_decay_mult']
        return {'lr_mult': lr_mult, 'decay_mult': decay_mult}

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        base_lr = self.optimizer_cfg.get('lr')
        base_wd = self.optimizer_cfg.get('weight_decay', 0.)
        groups: dict[tuple, dict[str, Any]] = {}
        seen: set[int] = set()
        for mod_name, module in model.named_modules():
            for p_name, param in module.named_parameters(recurse=False):
                if not param.requires_grad or id(param) in seen:
                    continue
                seen.add(id(param))
                name = f'{mod_name}.{p_name}' if mod_name else p_name
                mult = self.param_multipliers(name, param, module)
                key = tuple(sorted(mult.items()))
                if key not in groups:
                    group: dict[str, Any] = {'params': [], 'param_names': [], **mult}
                    if base_lr is not None:
                        group['lr'] = base_lr * mult['lr_mult']
                    if base_wd:
                        group['weight_decay'] = base_wd * mult['decay_mult']
                    groups[key] = group
                groups[key]['params'].append(param)
                groups[key]['param_names'].append(name)
        return list(groups.values())

    def __call__(self, model: nn.Module, precision: str = 'fp32', device_type: str = 'cpu'):
        if hasattr(model, 'module'):
            model = model.module
        params: Any
        if self.paramwise_cfg:
            params = self.param_groups(model)
        else:
            params = [p for p in model.parameters() if p.requires_grad]
        with key_scope('optimizer'):
            opt_cfg = dict(self.optimizer_cfg)
            optimizer = build(opt_cfg, OPTIMIZERS, params=params)
        wrapper_cfg = dict(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        wrapper_cfg.setdefault('device_type', device_type)
        if wrapper_cfg['type'] in ('OptimWrapper', OPTIM_WRAPPERS.get('OptimWrapper')):
            wrapper_cfg.setdefault('precision', precision)
        return build(wrapper_cfg, OPTIM_WRAPPERS, optimizer=optimizer)


def build_optim_wrapper(model: nn.Module, cfg: dict, precision: str = 'fp32', device_type: str = 'cpu'):
    """Build the wrapper described by ``cfg`` (the ``optim_wrapper`` config) for ``model``."""
    with key_scope('optim_wrapper'):
        cfg = dict(cfg)
        constructor = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
        paramwise_cfg = cfg.pop('paramwise_cfg', None)
        ctor = build(dict(type=constructor, optim_wrapper_cfg=cfg, paramwise_cfg=paramwise_cfg),
                     OPTIM_WRAPPER_CONSTRUCTORS)
        return ctor(model, precision=precision, device_type=device_type)


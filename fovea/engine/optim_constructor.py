"""Build an optimizer wrapper from the ``optim_wrapper`` config (MMEngine semantics).

``optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, ...),
paramwise_cfg=dict(...), clip_grad=..., accumulative_counts=..., constructor=...)``.

``paramwise_cfg`` keys: ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult``
(1-D parameters), ``dwconv_decay_mult``, ``bypass_duplicate`` and ``custom_keys``
(``{'pos_embed': dict(decay_mult=0.), 'backbone': dict(lr_mult=0.1)}``: the longest
matching substring of the parameter name wins; other keys such as ``lars_exclude=True`` are
copied into the parameter group, as MMEngine does).

``constructor='LearningRateDecayOptimWrapperConstructor'`` (MMPretrain) adds layer-wise
learning-rate decay for fine-tuning transformers: ``paramwise_cfg.layer_decay_rate=r`` gives a
parameter at depth ``d`` of ``n`` (from the backbone's ``get_layer_depth``) the learning rate
``lr * r ** (n - d - 1)`` (Bao et al., "BEiT", arXiv:2106.08254; Clark et al., "ELECTRA").
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fovea.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, build, key_scope
from fovea.utils.errors import ConfigError

__all__ = ['DefaultOptimWrapperConstructor', 'LearningRateDecayOptimWrapperConstructor', 'build_optim_wrapper']

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
        key = self.custom_key(name)
        if key is not None:
            cfg = dict(pc['custom_keys'][key])
            # lr_mult / decay_mult scale the base values; other keys (e.g. lars_exclude) go into the group
            return {'lr_mult': cfg.pop('lr_mult', 1.), 'decay_mult': cfg.pop('decay_mult', 1.), **cfg}
        lr_mult, decay_mult = 1., 1.
        is_bias = name.endswith('.bias') or name == 'bias'
        if is_bias and 'bias_lr_mult' in pc and not isinstance(module, _NORMS):
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

    def custom_key(self, name: str) -> str | None:
        """The ``custom_keys`` entry for a parameter: the longest key contained in its name
        (ties: alphabetical first), as MMEngine."""
        custom = self.paramwise_cfg.get('custom_keys', {})
        return next((k for k in sorted(sorted(custom), key=len, reverse=True) if k in name), None)

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
                key = tuple(sorted((k, repr(v)) for k, v in mult.items()))
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


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LearningRateDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise learning-rate decay (MMPretrain's constructor of this name).

    ``paramwise_cfg`` keys: ``layer_decay_rate`` (default 1), ``norm_decay_mult``,
    ``bias_decay_mult``, ``flat_decay_mult`` and ``custom_keys`` (``decay_mult`` and extra group keys;
    ``lr_mult`` is ignored here, the depth sets the learning rate). A parameter at depth ``d`` of
    ``n`` gets ``lr * layer_decay_rate ** (n - d - 1)``; depths come from the model's
    ``get_layer_depth(name)`` or its backbone's ``get_layer_depth(name, 'backbone.')`` (parameters
    outside the backbone, e.g. the head, get the last depth and the full learning rate).
    """

    def extra_paramwise_keys(self) -> set[str]:
        return {'layer_decay_rate'}

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        if hasattr(model, 'get_layer_depth'):
            fn = model.get_layer_depth
        elif hasattr(getattr(model, 'backbone', None), 'get_layer_depth'):
            backbone = model.backbone
            fn = lambda name: backbone.get_layer_depth(name, 'backbone.')  # noqa: E731
        else:
            what = type(getattr(model, 'backbone', model)).__name__
            raise ConfigError(f'optim_wrapper.constructor=LearningRateDecayOptimWrapperConstructor needs a backbone '
                              f'with get_layer_depth(param_name, prefix); {what} has none. Use the default '
                              f'constructor, or a transformer backbone (VisionTransformer, SwinTransformer, ...).')
        self._depth = fn
        if any('lr_mult' in v for v in self.paramwise_cfg.get('custom_keys', {}).values()):
            import logging
            logging.getLogger('fovea').warning('LearningRateDecayOptimWrapperConstructor ignores custom_keys lr_mult '
                                               '(as MMPretrain): the layer depth sets the learning rate.')
        return super().param_groups(model)

    def param_multipliers(self, name: str, param: nn.Parameter, module: nn.Module) -> dict[str, Any]:
        pc = self.paramwise_cfg
        key = self.custom_key(name)
        extra: dict[str, Any] = {}
        if key is not None:
            extra = dict(pc['custom_keys'][key])
            extra.pop('lr_mult', None)
            decay_mult = extra.pop('decay_mult', 1.)
        elif isinstance(module, _NORMS) and 'norm_decay_mult' in pc:
            decay_mult = pc['norm_decay_mult']
        elif name.rpartition('.')[2] == 'bias' and 'bias_decay_mult' in pc:
            decay_mult = pc['bias_decay_mult']
        elif param.ndim == 1 and 'flat_decay_mult' in pc:
            decay_mult = pc['flat_decay_mult']
        else:
            decay_mult = 1.
        layer_id, num_layers = self._depth(name)
        scale = pc.get('layer_decay_rate', 1.) ** (num_layers - layer_id - 1)
        return {'lr_mult': scale, 'decay_mult': decay_mult, 'layer_id': layer_id, **extra}


def build_optim_wrapper(model: nn.Module, cfg: dict, precision: str = 'fp32', device_type: str = 'cpu'):
    """Build the wrapper described by ``cfg`` (the ``optim_wrapper`` config) for ``model``."""
    with key_scope('optim_wrapper'):
        cfg = dict(cfg)
        constructor = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
        paramwise_cfg = cfg.pop('paramwise_cfg', None)
        ctor = build(dict(type=constructor, optim_wrapper_cfg=cfg, paramwise_cfg=paramwise_cfg),
                     OPTIM_WRAPPER_CONSTRUCTORS)
        return ctor(model, precision=precision, device_type=device_type)


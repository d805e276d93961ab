"""Registries and the one ``build`` function that turns config dicts into objects.

A config dict names what to build with ``type``: either a registered name
(``type='ResNet'``, also accepted with an MMPretrain scope prefix such as
``'mmpretrain.ResNet'``) or the class/callable itself (``type=ResNet``). The
remaining keys are constructor arguments. Nested configs are built by the
component that owns them, calling :func:`build` with the key under which the
nested dict lives, so errors name the full key path (``model.backbone.depth``).

Registries import the packages that populate them lazily, on first lookup, so
``import fovea`` stays cheap.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import inspect
from typing import Any, Callable, Iterator, Mapping

from fovea.utils.errors import ConfigError, ConfigKeyError, ConfigTypeError, add_note, did_you_mean

_KEY_PATH: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar('fovea_key_path', default=())

#: scope prefixes that MMPretrain/MMEngine configs put in front of type names
_SCOPES = ('mmpretrain.', 'mmcls.', 'mmselfsup.', 'mmengine.', 'fovea.')


@contextlib.contextmanager
def key_scope(key: str | None) -> Iterator[str]:
    """Push ``key`` onto the current config key path for error messages."""
    path = _KEY_PATH.get()
    if key:
        path = path + (str(key),)
    token = _KEY_PATH.set(path)
    try:
        yield '.'.join(path)
    finally:
        _KEY_PATH.reset(token)


def current_key_path() -> str:
    return '.'.join(_KEY_PATH.get())


class Registry:
    """A name -> class/function table.

    Args:
        name: what the registry holds, used in messages ("model", "transform").
        locations: packages imported on first lookup; importing them registers
            their members.
    """

    def __init__(self, name: str, locations: tuple[str, ...] = (), mmpretrain: str | None = None):
        self.name = name
        self.locations = locations
        self.mmpretrain = mmpretrain  # the MMPretrain registry holding the same kind of types
        self._modules: dict[str, Callable] = {}
        self._imported = False

    def __repr__(self) -> str:
        return f'Registry({self.name!r}, {len(self._modules)} entries)'

    def _import_locations(self) -> None:
        if not self._imported:
            self._imported = True
            for loc in self.locations:
                importlib.import_module(loc)

    def register_module(self, name: str | list[str] | None = None, force: bool = False,
                        module: Callable | None = None):
        """Register a class or function, as a decorator or directly (``module=``)."""

        def _register(obj: Callable) -> Callable:
            names = [obj.__name__] if name is None else ([name] if isinstance(name, str) else list(name))
            for n in names:
                if not force and n in self._modules and self._modules[n] is not obj:
                    raise KeyError(f'{n!r} is already registered in the {self.name} registry '
                                   f'(by {self._modules[n].__module__}); pass force=True to replace it')
                self._modules[n] = obj
            return obj

        if module is not None:
            return _register(module)
        return _register

    def keys(self) -> list[str]:
        self._import_locations()
        return sorted(self._modules)

    def __contains__(self, name: str) -> bool:
        return self.get(name, default=None) is not None

    def get(self, name: str, default: Any = ...) -> Callable:
        """Look up ``name``; unknown names raise a ConfigError with suggestions."""
        for scope in _SCOPES:
            if name.startswith(scope):
                name = name[len(scope):]
                break
        if name not in self._modules:
            self._import_locations()
        if name in self._modules:
            return self._modules[name]
        if '.' in name:  # an import path such as 'my_package.models.MyNet'
            mod_name, _, attr = name.rpartition('.')
            try:
                return getattr(importlib.import_module(mod_name), attr)
            except (ImportError, AttributeError):
                pass
        if default is not ...:
            return default
        where = current_key_path()
        where = f' at {where}.type' if where else ''
        missing = not_implemented(name, self.mmpretrain)
        if missing:
            raise ConfigKeyError(f'{name!r}{where} is {missing} that fovea does not implement yet (it is not a '
                                 f'typo). Registered {self.name} types: {", ".join(sorted(self._modules))}.')
        raise ConfigKeyError(  # a KeyError, as MMEngine's registry raises
            f'Unknown {self.name} type {name!r}{where}.{did_you_mean(name, self._modules)} '
            f'Registered {self.name} types: {", ".join(sorted(self._modules)) or "(none)"}.')

    def build(self, cfg: Any, key: str | None = None, **default_args: Any) -> Any:
        return build(cfg, self, key=key, **default_args)


#: look-alike names of models fovea does not implement, which a suggestion would silently replace by another
_NOT_IMPLEMENTED_ALIASES = {'convnextv2': "a ConvNeXt V2 name: MMPretrain and fovea build V2 as type='ConvNeXt' "
                                          "with use_grn=True, layer_scale_init_value=0. (the convnext_v2 configs)"}


@functools.lru_cache(maxsize=1)
def mmpretrain_names() -> dict:
    """The type names MMPretrain 1.2.0 registers, per registry, and its model-zoo names (bundled data)."""
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent / 'data' / 'assets' / 'mmpretrain_1.2.0_names.json').read_text())


def not_implemented(name: str, mmpretrain_registry: str | None) -> str:
    """'an MMPretrain model' (or a description) when ``name`` is a known type fovea lacks, else ''."""
    alias = _NOT_IMPLEMENTED_ALIASES.get(name.lower().replace('-', '').replace('_', ''))
    if alias and mmpretrain_registry == 'MODELS':
        return alias
    if mmpretrain_registry and name in mmpretrain_names()['registries'].get(mmpretrain_registry, ()):
        kind = mmpretrain_registry.lower().rstrip('s').replace('_', ' ')
        return f'an MMPretrain 1.2.0 {kind}'
    return ''


def _check_signature(obj: Callable, kwargs: Mapping[str, Any], type_name: str) -> None:
    """Fail early, with the key path, on unexpected or missing constructor arguments."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # builtins without signatures
        return
    params = sig.parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        accepted = None
    else:
        accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    path = current_key_path()
    prefix = f'{path}.' if path else ''
    if accepted is not None:
        for k in kwargs:
            if k not in accepted:
                raise ConfigTypeError(
                    f'Unexpected argument {prefix}{k}={kwargs[k]!r} for {type_name}.'
                    f'{did_you_mean(k, accepted)} Accepted arguments: {", ".join(accepted)}.')
    for n, p in params.items():
        if (p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and n not in kwargs and n != 'self'):
            raise ConfigTypeError(f'Missing required argument {prefix}{n} for {type_name}: '
                              f'add {n}=... to the config at {path or "the top level"}.')
        if n in kwargs and isinstance(kwargs[n], str) and _numeric_only(p.annotation):
            raise ConfigTypeError(f'{prefix}{n}={kwargs[n]!r} for {type_name} must be a number, not text '
                              f'(annotation: {_annotation_text(p.annotation)}); write the number itself.')


def _explain_forwarded_kwarg(exc: TypeError, cls: Any, kwargs: Mapping[str, Any], type_name: str, path: str) -> None:
    """A constructor that takes ``**kwargs`` and hands them to its base class (``LinearClsHead`` ->
    ``ClsHead``) lets a misspelt argument through the signature check; when the base class then refuses
    it, raise the same ConfigTypeError as the check, with the key path and the arguments the chain accepts."""
    import re
    m = re.fullmatch(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    mro = getattr(cls, '__mro__', ())
    if not m or m[2] not in kwargs or m[1] not in {c.__name__ for c in mro}:
        return
    accepted = []
    for c in mro:
        if c is object or '__init__' not in vars(c):
            continue
        accepted += [n for n, q in inspect.signature(c.__init__).parameters.items()
                     if n != 'self' and q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY) and n not in accepted]
    prefix = f'{path}.' if path else ''
    raise ConfigTypeError(f'Unexpected argument {prefix}{m[2]}={kwargs[m[2]]!r} for {type_name}.'
                          f'{did_you_mean(m[2], accepted)} Accepted arguments: {", ".join(accepted)}.') from None


_NUMERIC_NAMES = {'int', 'float', 'bool', 'None', 'NoneType', 'Optional', 'Union', 'typing.Optional', 'typing.Union',
                  'Tensor', 'torch.Tensor', 'complex'}


def _annotation_text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, '__name__', None) or str(annotation)


def _numeric_only(annotation: Any) -> bool:
    """Whether an annotation admits only numbers (``int``, ``float | None``, ``Union[float, Tensor]``)."""
    if annotation is inspect.Parameter.empty:
        return False
    import re
    names = set(re.findall(r'[A-Za-z_][\w.]*', _annotation_text(annotation)))
    return bool(names) and names <= _NUMERIC_NAMES and bool(names & {'int', 'float', 'complex'})


def build(cfg: Any, registry: Registry, key: str | None = None, **default_args: Any) -> Any:
    """Build an object from ``cfg`` using ``registry``.

    Args:
        cfg: a dict with a ``type`` key, or an already built object (returned as is).
        registry: where registered names are looked up.
        key: the config key under which ``cfg`` lives, for error messages.
        default_args: arguments used when ``cfg`` does not set them.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        return cfg  # already built
    with key_scope(key) as path:
        cfg = dict(cfg)
        args = {**default_args, **cfg}
        if 'type' not in args:
            raise ConfigKeyError(f'The config at {path or "the top level"} has no "type" key, so fovea '
                              f'cannot tell which {registry.name} to build. Keys present: {sorted(cfg)}.')
        obj_type = args.pop('type')
        if isinstance(obj_type, str):
            obj_cls = registry.get(obj_type)
            type_name = obj_type
        elif callable(obj_type):
            obj_cls, type_name = obj_type, getattr(obj_type, '__name__', repr(obj_type))
        else:
            raise ConfigTypeError(f'{path}.type must be a registered name or a class, got {obj_type!r}.')
        _check_signature(obj_cls, args, type_name)
        try:
            return obj_cls(**args)
        except ConfigError:
            raise
        except TypeError as exc:
            _explain_forwarded_kwarg(exc, obj_cls, args, type_name, path)
            add_note(exc, f'(while building {type_name} at {path or "the top level"})')
            raise
        except Exception as exc:
            add_note(exc, f'(while building {type_name} at {path or "the top level"})')
            raise


MODELS = Registry('model', ('fovea.models', 'fovea.nas.models'), 'MODELS')
DATASETS = Registry('dataset', ('fovea.data',), 'DATASETS')
TRANSFORMS = Registry('transform', ('fovea.data',), 'TRANSFORMS')
DATA_SAMPLERS = Registry('data sampler', ('fovea.data',), 'DATA_SAMPLERS')
FUNCTIONS = Registry('function', ('fovea.data',))  # collate functions and other callables
BATCH_AUGMENTS = Registry('batch augment', ('fovea.models',), 'BATCH_AUGMENTS')
METRICS = Registry('metric', ('fovea.evaluation',), 'METRICS')
OPTIMIZERS = Registry('optimizer', ('fovea.engine',), 'OPTIMIZERS')
OPTIM_WRAPPERS = Registry('optim wrapper', ('fovea.engine',))
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optim wrapper constructor', ('fovea.engine',), 'OPTIM_WRAPPER_CONSTRUCTORS')
PARAM_SCHEDULERS = Registry('parameter scheduler', ('fovea.engine',), 'PARAM_SCHEDULERS')
HOOKS = Registry('hook', ('fovea.engine',), 'HOOKS')
LOOPS = Registry('loop', ('fovea.engine',), 'LOOPS')

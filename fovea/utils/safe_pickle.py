"""Unpickling checkpoints written by other toolboxes without running any of their code.

MMPretrain/mmengine training checkpoints pickle mmengine objects (``HistoryBuffer`` inside
``message_hub``), timm's pickle an ``argparse.Namespace``; ``torch.load(weights_only=True)``
refuses both, and full unpickling would import (and run) those packages. This module is a
*pickle module* for ``torch.load(..., pickle_module=safe_pickle)``: torch keeps reading the
file format and the tensor storages, while every global the pickle names goes through
:meth:`Unpickler.find_class`, which

* returns the real object only for an allow-list: torch's own weights-only list (tensor
  rebuild functions, dtypes, ``torch.Size``...), NumPy's array/scalar/dtype reconstructors,
  ``collections.OrderedDict``/``Counter`` and a few builtins (``set``, ``frozenset``, ``complex``,
  ``bytearray``, ``slice``); ``collections.defaultdict`` becomes a plain dict; ``getattr`` works
  on placeholders only (giving a placeholder: mmengine pickles ``getattr(HistoryBuffer, 'min')``);
* refuses names from modules such as ``os``, ``subprocess`` or ``builtins.eval`` outright
  (:class:`~fovea.utils.errors.CheckpointError`): no weights file has a reason to use them;
* stands an inert :class:`Placeholder` subclass named after the class in for anything else,
  without importing its module. The pickle's reduce calls, ``__setstate__`` state, list items and
  dict items are recorded on the placeholder; none of the foreign class's code exists in the
  process, so none can run.

Nothing is imported by name at load time, so the only callables a pickle can reach are the
allow-listed ones and the placeholders.
"""
from __future__ import annotations

import _compat_pickle
import collections
import contextvars
import pickle
from typing import Any

from fovea.utils.errors import CheckpointError

__all__ = ['Unpickler', 'load', 'load_plain', 'PlainDataUnpickler', 'Placeholder', 'placeholder_name', 'recording',
           'REFUSED_MODULES']

#: modules whose members a checkpoint has no reason to reference: a pickle naming one is refused
REFUSED_MODULES = frozenset({
    'os', 'posix', 'nt', 'subprocess', '_posixsubprocess', 'sys', 'shutil', 'socket', 'importlib', 'runpy',
    'pickle', '_pickle', 'marshal', 'ctypes', 'code', 'codeop', 'pty', 'webbrowser', 'pdb', 'commands',
    'multiprocessing', 'asyncio', 'signal', 'threading', '_thread', 'builtins', 'operator', 'functools',
})

_SEEN: contextvars.ContextVar[set | None] = contextvars.ContextVar('fovea_placeholders_seen', default=None)


class Placeholder:
    """Stands in for an object of a class fovea did not (and will not) import.

    ``placeholder_name(obj)`` gives the class's full name, ``obj.args`` / ``obj.kwargs`` what the
    pickle passed to its constructor, ``obj.state`` its ``__setstate__`` state, ``obj.items`` /
    ``obj.entries`` what it pickled as list / dict items. Public names of a dict state read as
    attributes (``ckpt['args'].epochs`` for timm's ``argparse.Namespace``).
    """
    _fovea_name = 'Placeholder'

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = object.__new__(cls)
        obj.__dict__.update(args=args, kwargs=kwargs, state=None, items=[], entries={})
        return obj

    def __setstate__(self, state: Any) -> None:
        self.__dict__['state'] = state

    def append(self, item: Any) -> None:
        self.__dict__['items'].append(item)

    def extend(self, items: Any) -> None:
        self.__dict__['items'].extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__['entries'][key] = value

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get('state')
        if not name.startswith('_') and isinstance(state, dict) and name in state:
            return state[name]
        raise AttributeError(f'{self._fovea_name} placeholder has no attribute {name!r}')

    def __repr__(self) -> str:
        return f'<placeholder for {self._fovea_name}>'


_PLACEHOLDERS: dict[str, type] = {}


def _placeholder_class(module: str, name: str) -> type:
    full = f'{module}.{name}'
    cls = _PLACEHOLDERS.get(full)
    if cls is None:
        cls = type(name.rpartition('.')[2] or 'Placeholder', (Placeholder,), {'_fovea_name': full})
        _PLACEHOLDERS[full] = cls
    return cls


def placeholder_name(obj: Any) -> str | None:
    """The full name an inert placeholder (an instance, or the placeholder class itself) stands for, or
    None for a real object."""
    if isinstance(obj, Placeholder) or (isinstance(obj, type) and issubclass(obj, Placeholder)):
        return obj._fovea_name
    return None


class recording:
    """``with recording() as seen:`` collects the names stood in for during the loads inside."""

    def __enter__(self) -> set[str]:
        self._seen: set[str] = set()
        self._token = _SEEN.set(self._seen)
        return self._seen

    def __exit__(self, *exc: Any) -> None:
        _SEEN.reset(self._token)


def _placeholder_attribute(obj: Any, name: str) -> type:
    """``builtins.getattr`` in a pickle (mmengine's HistoryBuffer pickles ``getattr(HistoryBuffer, 'min')``
    for its statistics methods): allowed on placeholders only, giving another placeholder."""
    owner = obj if isinstance(obj, type) else type(obj)
    if not issubclass(owner, Placeholder) or not isinstance(name, str):
        raise CheckpointError(f'The checkpoint calls getattr({type(obj).__name__} object, {name!r}), which can reach '
                              f'code: fovea refused to unpickle it (it could run code); nothing in it was run.')
    return _placeholder_class(owner._fovea_name, name)


def _plain_dict(*args: Any) -> dict:  # collections.defaultdict(factory): the factory is dropped
    return {}


def _allowed() -> dict[str, Any]:
    global _ALLOWED
    if _ALLOWED is None:
        import numpy as np
        import torch
        try:
            from torch._weights_only_unpickler import _get_allowed_globals
            table = dict(_get_allowed_globals())
        except (ImportError, AttributeError):  # pragma: no cover - other torch versions
            table = {'torch._utils._rebuild_tensor_v2': torch._utils._rebuild_tensor_v2,
                     'torch._utils._rebuild_parameter': torch._utils._rebuild_parameter,
                     'torch.Size': torch.Size, 'torch.device': torch.device,
                     'collections.OrderedDict': collections.OrderedDict}
            table.update({f'torch.{n}': getattr(torch, n) for n in dir(torch)
                          if isinstance(getattr(torch, n, None), torch.dtype)})
        multiarray = getattr(np, '_core', None) or np.core
        for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            table[f'{mod}._reconstruct'] = multiarray.multiarray._reconstruct
            table[f'{mod}.scalar'] = multiarray.multiarray.scalar
        table.update({'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype,
                      'collections.OrderedDict': collections.OrderedDict, 'collections.Counter': collections.Counter,
                      'collections.defaultdict': _plain_dict, 'builtins.getattr': _placeholder_attribute,
                      'builtins.set': set, 'builtins.frozenset': frozenset, 'builtins.complex': complex,
                      'builtins.bytearray': bytearray, 'builtins.slice': slice})
        _ALLOWED = table
    return _ALLOWED


_ALLOWED: dict[str, Any] | None = None


class Unpickler(pickle.Unpickler):
    """A pickle Unpickler that never imports: see the module docstring."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))  # protocol 0-2 names
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f'{module}.{name}'
        obj = _allowed().get(full)
        if obj is not None:
            return obj
        if module.split('.')[0] in REFUSED_MODULES:
            raise CheckpointError(
                f'The checkpoint refers to {full}, which a weights file has no reason to use: it may be '
                f'malicious. fovea refused to unpickle it (it could run code); nothing in it was run.')
        seen = _SEEN.get()
        if seen is not None:
            seen.add(full)
        return _placeholder_class(module, name)


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` with :class:`Unpickler` (torch's legacy format calls this for its headers)."""
    return Unpickler(file, **kwargs).load()


# ---- plain data (annotation files): no class at all
_PLAIN_GLOBALS = {'builtins.set': set, 'builtins.frozenset': frozenset, 'builtins.complex': complex,
                  'collections.OrderedDict': collections.OrderedDict}


class PlainDataUnpickler(pickle.Unpickler):
    """Builds containers, numbers, strings and bytes only (what an annotation pickle such as RefCOCO's
    ``refs(unc).p`` holds): any other global the pickle names raises ``pickle.UnpicklingError`` naming it,
    before anything is built, so no code of the file's choosing can run."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        obj = _PLAIN_GLOBALS.get(f'{module}.{name}')
        if obj is None:
            raise pickle.UnpicklingError(f'it refers to {module}.{name}; only plain data (dicts, lists, tuples, '
                                         f'sets, strings, numbers) is read from annotation pickles')
        return obj


def load_plain(path: str) -> Any:
    """Read a pickle of plain data with :class:`PlainDataUnpickler` (Python 2 pickles' strings as UTF-8).
    Raises ``pickle.UnpicklingError`` (or ``EOFError``/``ValueError`` for broken files); callers turn that into
    their own error naming the file."""
    with open(path, 'rb') as f:
        return PlainDataUnpickler(f, encoding='utf-8').load()

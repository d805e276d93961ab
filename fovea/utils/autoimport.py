"""Import every module of a package so that its registrations run.

Package ``__init__`` files call :func:`import_all` instead of listing their
modules by hand: adding a file to ``fovea/models/backbones/`` is enough to make
its registered classes buildable from configs and importable from the package
(``from fovea.models.backbones import ResNet``) through the module's ``__all__``.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def import_all(package: str, namespace: dict[str, Any]) -> list[str]:
    """Import the submodules of ``package`` (sorted) and copy their ``__all__`` into ``namespace``."""
    pkg = importlib.import_module(package)
    exported: list[str] = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith('_'):
            continue
        mod = importlib.import_module(f'{package}.{info.name}')
        for name in getattr(mod, '__all__', ()):
            namespace[name] = getattr(mod, name)
            exported.append(name)
    return exported

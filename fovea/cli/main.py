"""`fovea <command>`: one module per command in this folder.

Each command module defines ``COMMAND`` (the name), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Commands are discovered by
file; adding one needs no edit here. Only argument parsing lives in cli/.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from fovea.utils.errors import FoveaError


def _commands() -> dict[str, object]:
    import fovea.cli as pkg
    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in ('main',) or info.name.startswith('_'):
            continue
        mod = importlib.import_module(f'fovea.cli.{info.name}')
        if hasattr(mod, 'COMMAND'):
            out[mod.COMMAND] = mod
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='fovea', description='fovea: an image pretraining toolbox for PyTorch.')
    from fovea import __version__
    parser.add_argument('--version', action='version', version=f'fovea {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, mod in _commands().items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'command', None):
        parser.print_help()
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format='%(message)s', stream=sys.stdout)
    try:
        code = args._run(args)
    except FoveaError as exc:
        print(f'fovea {args.command}: error: {exc}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f'fovea {args.command}: interrupted.', file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)

"""fovea list-configs [PATTERN]: the configs that ship with fovea."""
from __future__ import annotations

import fnmatch

COMMAND = 'list-configs'
HELP = 'list the shipped config names (usable wherever a config path is expected)'


def add_arguments(parser) -> None:
    parser.add_argument('pattern', nargs='?', default='*', help="shell pattern, e.g. 'resnet*'")


def run(args) -> int:
    from fovea.config import list_configs
    for name in list_configs():
        if fnmatch.fnmatch(name, args.pattern) or args.pattern in name:
            print(name)
    return 0

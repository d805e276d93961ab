"""fovea print-config CFG: print the fully resolved config."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'print-config'
HELP = 'print the fully resolved config (bases merged, overrides applied)'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.cli._common import load_config
    print(load_config(args).pretty_text(), end='')
    return 0

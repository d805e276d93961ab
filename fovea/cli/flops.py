"""fovea flops MODEL [--shape 224]: parameters and multiply-accumulates, per module and in total."""
from __future__ import annotations

COMMAND = 'flops'
HELP = 'count parameters and MACs (FlopCounterMode FLOPs / 2) of a model, per module and in total'


def add_arguments(parser) -> None:
    parser.add_argument('model', help='a model name from `fovea list-models`, a shipped config name or a config file')
    parser.add_argument('--shape', type=int, nargs='+', default=None, metavar='SIZE',
                        help='input size: H (square) or H W; default: the index entry\'s input size, else the '
                             'config\'s test pipeline size, else 224')
    parser.add_argument('--in-channels', type=int, default=None,
                        help='input channels (default: model.backbone.in_channels, else the first convolution\'s)')
    parser.add_argument('--depth', type=int, default=2,
                        help='how deep the per-module table goes (0: totals only; default 2)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='config overrides, e.g. model.head.num_classes=10')


def run(args) -> int:
    from fovea.tools.flops_table import complexity_table
    print(complexity_table(args.model, args.shape, args.in_channels, args.depth, args.cfg_options))
    return 0

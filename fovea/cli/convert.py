"""fovea convert --from SOURCE IN OUT --model NAME: translate another toolbox's weights into fovea's names."""
from __future__ import annotations

COMMAND = 'convert'
HELP = 'convert torchvision / timm / MMPretrain weights into a fovea checkpoint for a given model'


def add_arguments(parser) -> None:
    parser.add_argument('input', help='weights file (.pth/.pt/.bin/.safetensors) or a checkpoint holding them')
    parser.add_argument('output', help='where to write the fovea checkpoint (.pth or .safetensors)')
    parser.add_argument('--from', dest='source', default=None,
                        help="source toolbox: torchvision, timm, mmpretrain, ... (default: detect from the keys)")
    parser.add_argument('--model', '--config', dest='model', required=True,
                        help="target: a model name from `fovea list-models` or a config file, e.g. resnet50_8xb32_in1k")
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='model overrides, e.g. model.head.num_classes=10')
    parser.add_argument('--strict', action='store_true',
                        help='fail unless every tensor of the model is filled and nothing is left over')
    parser.add_argument('--ema', action='store_true',
                        help="take the checkpoint's moving-average weights (timm's state_dict_ema; MMPretrain's "
                             "EMAHook already saves them as state_dict)")
    parser.add_argument('--trust', action='store_true',
                        help='if the safe reader cannot rebuild the file as data, unpickle it fully, running '
                             'any code in it (only for files you trust)')


def run(args) -> int:
    from fovea.tools.convert_weights import convert_checkpoint
    report = convert_checkpoint(args.input, args.output, args.model, source=args.source, strict=args.strict,
                                trust=args.trust, cfg_options=args.cfg_options,
                                ema=True if args.ema else None)
    print(f'{args.input} -> {args.output}: {report}')
    return 0

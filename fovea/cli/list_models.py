"""fovea list-models [PATTERN]: the model index with parameters, MACs and reference accuracy."""
from __future__ import annotations

COMMAND = 'list-models'
HELP = 'list the named models (params, GMACs, top-1, weights) usable with get_model and --model'


def add_arguments(parser) -> None:
    parser.add_argument('pattern', nargs='?', default=None, help="shell pattern or substring, e.g. 'resnet*'")
    parser.add_argument('--task', default=None, help="only this task, e.g. 'Image Classification'")
    parser.add_argument('--names-only', action='store_true', help='print only the names, one a line')


def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def run(args) -> int:
    from fovea.zoo import search_entries
    entries = sorted(search_entries(args.pattern, args.task), key=lambda e: e['name'])
    if args.names_only:
        for e in entries:
            print(e['name'])
        return 0
    if not entries:
        print(f'No model matches {args.pattern!r}.' if args.pattern else 'The model index is empty.')
        return 0
    header = ('name', 'params (M)', 'GMACs', 'input', 'top-1', 'dataset', 'weights')
    rows = [(e['name'], _fmt(e.get('params_m'), '.2f'), _fmt(e.get('flops_g'), '.3f'),
             _fmt(e.get('input_size'), 'd'), _fmt(e.get('top1'), '.2f'), e.get('dataset') or '-',
             'yes' if e.get('weights') else '-') for e in entries]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = '  '.join(h.ljust(w) if i == 0 or i == 5 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print('-' * len(line))
    for r in rows:
        print('  '.join(c.ljust(w) if i == 0 or i == 5 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f'\n{len(rows)} models. GMACs = multiply-accumulates of one image at the input size '
          f'(torch FlopCounterMode FLOPs / 2), as `fovea flops` counts them.')
    return 0

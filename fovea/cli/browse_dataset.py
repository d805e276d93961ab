"""fovea browse-dataset CFG: a grid PNG of dataset samples as the pipeline produces them."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'browse-dataset'
HELP = ('grid PNG of dataset samples: original, transformed, both, one column per pipeline step, or every view '
        'of a multi-view / pretext-task sample')


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('--phase', choices=['train', 'val', 'test'], default='train')
    parser.add_argument('--mode', choices=['original', 'transformed', 'concat', 'pipeline', 'views'], default='transformed',
                        help='views: every view a multi-view or pretext pipeline makes of each sample, one row each')
    parser.add_argument('--num', type=int, default=16, help='number of samples (default 16)')
    parser.add_argument('--start', type=int, default=0, help='index of the first sample')
    parser.add_argument('--ncols', type=int, default=8, help='columns in original/transformed mode')
    parser.add_argument('--cell', type=int, default=128, help='size of one image in the grid (pixels)')
    parser.add_argument('--seed', type=int, default=0, help='seed for random transforms')
    parser.add_argument('--out', default='browse.png', help='output PNG (default browse.png)')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.cli._common import load_config
    from fovea.tools.browse import browse_dataset
    from fovea.tools.visualize import make_grid, save_png
    from fovea.utils.errors import ConfigError

    cfg = load_config(args)
    loader = cfg.get(f'{args.phase}_dataloader')
    if not isinstance(loader, dict) or 'dataset' not in loader:
        raise ConfigError(f'{args.config} has no {args.phase}_dataloader.dataset; pick another --phase')
    from fovea.tools.browse import pipeline_steps
    dataset, _ = pipeline_steps(loader['dataset'])
    stop = min(len(dataset), args.start + args.num)
    if args.start >= len(dataset):
        raise ConfigError(f'--start {args.start} is past the end of the {args.phase} set ({len(dataset)} samples)')
    images, titles, columns, ncols = browse_dataset(loader['dataset'], range(args.start, stop), args.mode, args.seed)
    per_row = args.ncols if args.mode in ('original', 'transformed') else ncols
    grid = make_grid(images, per_row, titles, cell=args.cell,
                     col_titles=columns if args.mode in ('concat', 'pipeline') else None)
    out = save_png(grid, args.out)
    print(f'{stop - args.start} {args.phase} samples ({args.mode}'
          f'{": " + " -> ".join(columns) if args.mode == "pipeline" else ""}): wrote {out}')
    return 0

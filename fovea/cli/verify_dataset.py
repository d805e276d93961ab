"""fovea verify-dataset CFG: list every image of a config's dataset that cannot be read."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'verify-dataset'
HELP = 'decode every image of a config\'s dataset and list the unreadable files'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('--phase', default='train', choices=['train', 'val', 'test'],
                        help='which dataloader\'s dataset to check (default: train)')
    parser.add_argument('--num-workers', type=int, default=4, help='decoding threads (default: 4)')
    parser.add_argument('--out-path', help='also write the unreadable files (index, path, reason) to this file')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.cli._common import load_config
    from fovea.data.verify import dataset_cfg_for_phase, verify_dataset

    cfg = load_config(args)
    n, bad = verify_dataset(dataset_cfg_for_phase(cfg, args.phase), num_workers=args.num_workers)
    for idx, path, reason in bad:
        print(f'{idx}\t{path}\t{reason}')
    if args.out_path:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out_path, ''.join(f'{i}\t{p}\t{r}\n' for i, p, r in bad))
    print(f'checked {n} samples of the {args.phase} set: {len(bad)} unreadable')
    return 1 if bad else 0

"""fovea search CFG --checkpoint SUPERNET: evolution search of a trained supernet under a FLOPs budget."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'search'
HELP = 'evolution search (SPOS) of a trained supernet for the best subnet under a FLOPs budget'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='search config (train_cfg.type=EvolutionSearchLoop), file or shipped name')
    parser.add_argument('--checkpoint', required=True, help='the trained supernet\'s checkpoint (`fovea train` on '
                                                             'the supernet config)')
    parser.add_argument('--work-dir', help='where the run folder goes (default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='SEARCH_EPOCH_JSON',
                        help='continue a search from its search_epoch_<n>.json (no value: the newest under '
                             'the work dir)')
    parser.add_argument('--calibrate-samples', type=int, default=None, metavar='N',
                        help='training images to recalibrate each candidate\'s BatchNorm statistics on '
                             '(overrides train_cfg.calibrate_sample_num; 0: no recalibration)')
    parser.add_argument('--seed', type=int, default=None, help='seed of the run (sampling, mutation, crossover)')
    parser.add_argument('--device', help="'cpu', 'cuda' or 'auto'")
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'], help='override env_cfg.precision')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.cli._common import load_config
    from fovea.cli.train import apply_common
    from fovea.nas.search import search_architecture

    cfg = load_config(args)
    apply_common(cfg, args)
    if args.seed is not None:
        cfg.setdefault('randomness', {})['seed'] = args.seed
    best = search_architecture(cfg, args.checkpoint, resume=args.resume, calibrate_samples=args.calibrate_samples)
    print(f'Best subnet: score {best["score"]:.2f}, {best["flops"]:.1f} MFLOPs, {best["params"]:.2f} M params')
    print(f'  subnet YAML:  {best["yaml"]}')
    print(f'  weights:      {best["checkpoint"]}')
    print(f'  plot:         {best["plot"]}')
    return 0

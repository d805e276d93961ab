"""fovea train CFG: train a model described by a config."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'train'
HELP = 'train a model from a config file or shipped config name'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name (e.g. lenet5_digits)')
    parser.add_argument('--work-dir', help='where runs are saved (default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume training: from CKPT, or with no value from the latest checkpoint in work-dir')
    parser.add_argument('--load-from', help='start from the weights of this checkpoint (any supported source)')
    parser.add_argument('--amp', action='store_true', help='mixed precision (bf16 or fp16, by hardware)')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'], help='override env_cfg.precision')
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate linearly with the total batch size (auto_scale_lr)')
    parser.add_argument('--seed', type=int, help='random seed (overrides randomness.seed)')
    parser.add_argument('--deterministic', action='store_true', help='use deterministic algorithms')
    parser.add_argument('--device', help="'cpu', 'cuda' or 'auto'")
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help="MMPretrain's switch, accepted; processes come from torchrun's environment either way")
    add_cfg_options(parser)


def apply_common(cfg, args) -> None:
    """Apply the command-line switches shared by train and test to the config."""
    if getattr(args, 'work_dir', None):
        cfg['work_dir'] = args.work_dir
    env = cfg.setdefault('env_cfg', {})
    if getattr(args, 'precision', None):
        env['precision'] = args.precision
    if getattr(args, 'amp', False):
        env['precision'] = 'bf16' if env.get('precision', 'auto') in ('auto', 'fp32') else env['precision']
    if getattr(args, 'device', None):
        env['device'] = args.device


def run(args) -> int:
    from fovea.cli._common import load_config
    from fovea.engine.runner import Runner

    cfg = load_config(args)
    apply_common(cfg, args)
    if args.resume:
        cfg['resume'] = True if args.resume == 'auto' else args.resume
    if args.load_from:
        cfg['load_from'] = args.load_from
    if args.compile:
        cfg.setdefault('env_cfg', {})['compile'] = True
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    rnd = cfg.setdefault('randomness', {})
    if args.seed is not None:
        rnd['seed'] = args.seed
    if args.deterministic:
        rnd['deterministic'] = True
    if args.launcher:
        cfg['launcher'] = args.launcher
    if args.no_validate:
        cfg['val_dataloader'] = cfg['val_evaluator'] = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    _print_summary(runner)
    return 0


def _print_summary(runner) -> None:
    metrics = runner.last_metrics.get('val')
    if metrics:
        from fovea.cli._common import print_metrics_table
        print_metrics_table(metrics, title=f'Final validation metrics (epoch {runner.epoch})')
    best = next((h for h in runner.hooks if getattr(h, 'best_path', None)), None)
    print(f'Checkpoints and logs: {runner.run_dir}')
    if best:
        print(f'Best checkpoint: {best.best_path}')

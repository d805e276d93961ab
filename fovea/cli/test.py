"""fovea test CFG CKPT: evaluate a checkpoint on the config's test set."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'test'
HELP = 'evaluate a checkpoint on the test set of a config'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('checkpoint', help='checkpoint file (fovea, MMPretrain, timm, torchvision)')
    parser.add_argument('--work-dir', help='where the test run is logged (default: work_dirs/<config name>)')
    parser.add_argument('--out', help='write the metrics (and per-sample predictions) to this JSON file')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'], help='override env_cfg.precision')
    parser.add_argument('--device', help="'cpu', 'cuda' or 'auto'")
    parser.add_argument('--tta', nargs='?', const='flip', choices=['flip', 'multi-crop'],
                        help='test-time augmentation: average over horizontal flips (default), or with '
                             '`multi-crop` also over the centre and four corner crops (87.5%%) and their flips')
    add_cfg_options(parser)


def run(args) -> int:
    import json

    from fovea.cli._common import print_metrics_table
    from fovea.cli.train import apply_common
    from fovea.cli._common import load_config
    from fovea.engine.runner import Runner

    cfg = load_config(args)
    apply_common(cfg, args)
    cfg['load_from'] = args.checkpoint
    cfg['resume'] = False
    runner = Runner.from_cfg(cfg)
    collector = None
    if args.out:
        from fovea.tools.results import PredictionCollector
        collector = PredictionCollector()
        runner.register_hook(collector)
    if args.tta:
        from fovea.tools.tta import enable_tta
        enable_tta(runner.unwrapped_model, flip=True, multi_crop=args.tta == 'multi-crop')
    metrics = runner.test()
    print_metrics_table(metrics, title='Test metrics' + (f' (TTA: {args.tta})' if args.tta else ''))
    if args.out:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out, json.dumps({'metrics': metrics, 'checkpoint': args.checkpoint,
                                                'config': args.config, 'tta': args.tta,
                                                'predictions': collector.records}, indent=1))
        print(f'Wrote {args.out}')
    return 0

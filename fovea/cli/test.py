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
    add_cfg_options(parser)


def run(args) -> int:
    import json

    from fovea.cli._common import print_metrics_table
    from fovea.cli.train import apply_common
    from fovea.config import Config
    from fovea.engine.runner import Runner

    cfg = Config.fromfile(args.config, args.cfg_options)
    apply_common(cfg, args)
    cfg['load_from'] = args.checkpoint
    cfg['resume'] = False
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    print_metrics_table(metrics, title='Test metrics')
    if args.out:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out, json.dumps({'metrics': metrics, 'checkpoint': args.checkpoint}, indent=2))
        print(f'Wrote {args.out}')
    return 0

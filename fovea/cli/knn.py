"""fovea knn CFG [CKPT]: weighted kNN accuracy of the backbone's features (self-supervised check)."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'knn'
HELP = 'weighted kNN top-1/top-5 of backbone features (k=200, T=0.1): did the pretraining work?'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name (its knn_cfg, or val_dataloader)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: randomly initialised weights)')
    parser.add_argument('--k', type=int, default=None, help='neighbours (default knn_cfg.k or 200)')
    parser.add_argument('--temperature', type=float, default=None, help='vote temperature (default 0.1)')
    parser.add_argument('--device', default='cpu')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.apis.inference import build_inference_model
    from fovea.cli._common import load_config, print_metrics_table
    from fovea.evaluation.knn import knn_evaluate, knn_loaders

    cfg = load_config(args)
    knn_cfg = cfg.get('knn_cfg') or {}
    model = build_inference_model(cfg, args.checkpoint, args.device)
    memory, queries = knn_loaders(cfg)
    k = args.k or knn_cfg.get('k', 200)
    temperature = args.temperature or knn_cfg.get('temperature', 0.1)
    metrics = knn_evaluate(model, memory, queries, k=k, temperature=temperature)
    print(f'kNN (k={k}, T={temperature}) over {len(memory.dataset)} memory and {len(queries.dataset)} query images')
    print_metrics_table(metrics, 'kNN')
    return 0

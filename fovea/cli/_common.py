"""Argument helpers shared by commands."""
from __future__ import annotations

import argparse


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options`` and the trust switches of commands that read a config file (see :func:`load_config`)."""
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. optim_wrapper.optimizer.lr=0.01 '
                             'train_dataloader.batch_size=64 (values: numbers, True/False/None, [lists], strings)')
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument('--trust', dest='untrusted', action='store_false', default=None,
                       help='trust a JSON/YAML config: allow `type` import paths and Python _base_ files '
                            '(by default JSON/YAML configs may only name registered types)')
    trust.add_argument('--untrusted', dest='untrusted', action='store_true', default=None,
                       help='refuse to run any code from the config: Python configs (other than fovea\'s '
                            'shipped ones) are refused (JSON/YAML configs are untrusted already)')


def load_config(args: argparse.Namespace):
    """The config named by ``args.config`` with ``--cfg-options`` applied. JSON/YAML files are untrusted
    unless ``--trust`` is given; Python files are code and run, unless ``--untrusted`` is given."""
    from fovea.config import Config
    return Config.fromfile(args.config, args.cfg_options, untrusted=getattr(args, 'untrusted', None))


def print_metrics_table(metrics: dict, title: str = 'Metrics') -> None:
    """A two-column table of scalar metrics."""
    rows = [(k, f'{v:.2f}' if isinstance(v, float) else str(v)) for k, v in metrics.items()
            if not isinstance(v, (list, dict))]
    if not rows:
        return
    w1 = max(len(title), max(len(k) for k, _ in rows))
    w2 = max(len(v) for _, v in rows)
    line = f'+-{"-" * w1}-+-{"-" * w2}-+'
    print(line)
    print(f'| {title:<{w1}} | {"":>{w2}} |')
    print(line)
    for k, v in rows:
        print(f'| {k:<{w1}} | {v:>{w2}} |')
    print(line)


def add_image_text_arguments(parser: argparse.ArgumentParser, what: str, text_flag: str | None = None) -> None:
    """The arguments of the image-text inference commands (caption, vqa, ground): model, images,
    ``--checkpoint``, ``--device``, ``--batch-size``, ``--out`` and, with ``text_flag`` (``--question``), the
    texts that go with the images."""
    if text_flag:
        noun = text_flag.lstrip('-')
        parser.add_argument(text_flag, nargs='+', required=True,
                            help=f'one {noun} for every image, or one per image (in the order of the images)')
    parser.add_argument('model', help=f'a {what} model: index name, shipped config name (configs/blip/...) or file')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--checkpoint', help='weights: Salesforce BLIP, MMPretrain, transformers or fovea checkpoint')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', help="'cpu' or 'cuda' (default: cuda when available)")
    parser.add_argument('--out', help='write the results to this JSON file')


def run_image_text(args: argparse.Namespace, inferencer_cls, call, line) -> int:
    """Build ``inferencer_cls`` from the common arguments, run ``call(inferencer)``, print ``line(result)`` per
    result and write them to ``--out`` (tensors as lists)."""
    import json

    inferencer = inferencer_cls(args.model, pretrained=args.checkpoint or None, device=args.device)
    if not args.checkpoint:
        print('Warning: no --checkpoint given: the results come from randomly initialised weights.')
    results = call(inferencer)
    records = []
    for i, res in enumerate(results):
        print(f"{res.get('img_path', f'image {i}')}: {line(res)}")
        records.append({k: (v.tolist() if hasattr(v, 'tolist') else v) for k, v in res.items()})
    if args.out:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out, json.dumps({'model': args.model, 'checkpoint': args.checkpoint,
                                                'results': records}, indent=1))
        print(f'Wrote {args.out}')
    return 0

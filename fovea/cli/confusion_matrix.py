"""fovea confusion-matrix CFG CKPT: the confusion matrix of a checkpoint on the test set (PNG + numbers)."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'confusion-matrix'
HELP = 'confusion matrix of a checkpoint on the test set: a PNG and the counts (JSON / printed)'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (or pass --results)')
    parser.add_argument('--results', help='use the predictions of `fovea test --out` instead of running the model')
    parser.add_argument('--out', default='confusion_matrix.png', help='output PNG (default confusion_matrix.png)')
    parser.add_argument('--json', help='write the counts and class names to this JSON file')
    parser.add_argument('--show', action='store_true', help='print the matrix (counts) to the terminal')
    parser.add_argument('--counts', action='store_true', help='colour by counts instead of row percentages')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', choices=['auto', 'fp32', 'bf16', 'fp16'],
                        help='autocast precision (default: env_cfg.precision, as `fovea test` uses it)')
    add_cfg_options(parser)


def run(args) -> int:
    import numpy as np

    from fovea.tools.results import confusion_matrix, plot_confusion_matrix, save_json
    from fovea.tools.visualize import save_png
    from fovea.utils.errors import ConfigError

    cfg, model, records, precision = _predictions(args)
    classes = _classes(cfg, model)
    labelled = [r for r in records if isinstance(r.get('gt_label'), int)]
    if not labelled:
        raise ConfigError('the test set has no single-label ground truth: a confusion matrix needs gt_label')
    num = len(classes) if classes else max(max(r['gt_label'], r['pred_label']) for r in labelled) + 1
    cm = confusion_matrix([r['gt_label'] for r in labelled], [r['pred_label'] for r in labelled], num)
    acc = 100.0 * np.trace(cm) / cm.sum()
    fig = plot_confusion_matrix(cm, classes, normalize=not args.counts,
                                title=f'Confusion matrix ({cm.sum()} images, top-1 {acc:.2f}%)')
    out = save_png(fig, args.out)
    if args.show:
        w = max(5, len(str(cm.max())) + 1)
        names = classes or [str(i) for i in range(num)]
        print('true\\pred'.ljust(10) + ''.join(n[:w - 1].rjust(w) for n in names))
        for n, row in zip(names, cm):
            print(n[:9].ljust(10) + ''.join(str(v).rjust(w) for v in row))
    if args.json:
        save_json({'classes': classes, 'matrix': cm.tolist(), 'top1': acc}, args.json)
    how = f'precision {precision}, as `fovea test` runs it' if precision else 'predictions from --results'
    print(f'top-1 {acc:.2f}% on {cm.sum()} images ({how}); wrote {out}')
    return 0


def _classes(cfg, model):
    meta = getattr(model, 'dataset_meta', None) or {}
    if meta.get('classes'):
        return list(meta['classes'])
    from fovea.apis.model import _classes_from_cfg
    return _classes_from_cfg(cfg)


def _predictions(args):
    """(cfg, model or None, records) from --results or by running the checkpoint on the test set."""
    from fovea.cli._common import load_config
    from fovea.utils.errors import ConfigError
    cfg = load_config(args)
    if args.results:
        from fovea.tools.results import load_results
        return cfg, None, load_results(args.results), None
    if not args.checkpoint:
        raise ConfigError('give a checkpoint, or --results with the output of `fovea test --out`')
    from fovea.apis.inference import build_inference_model
    from fovea.tools.results import build_test_loader, predict_dataset, test_precision
    if args.precision:
        cfg.setdefault('env_cfg', {})['precision'] = args.precision
    model = build_inference_model(cfg, args.checkpoint, args.device)
    precision = test_precision(cfg, model)
    records, _ = predict_dataset(model, build_test_loader(cfg), precision=precision)
    return cfg, model, records, precision

"""fovea infer MODEL IMAGE...: classify images and print (and optionally save/draw) the top-k classes."""
from __future__ import annotations

COMMAND = 'infer'
HELP = 'classify images (files or folders) with a model and print the top-k classes'


def add_arguments(parser) -> None:
    parser.add_argument('model', help='model name from `fovea list-models`, shipped config name or config file')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--checkpoint', help='weights to load (default: the index\'s published weights if any)')
    parser.add_argument('--topk', type=int, default=5, help='how many classes to report per image (default 5)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', help="'cpu' or 'cuda' (default: cuda when available)")
    parser.add_argument('--out', help='write the predictions to this JSON file')
    parser.add_argument('--show-dir', help='save each image with its top-k drawn on it here (PNG)')
    parser.add_argument('--skip-bad', action='store_true',
                        help='go on past unreadable images (corrupt, truncated, too large) and report how many '
                             'were skipped (default: stop at the first, naming it)')


def run(args) -> int:
    import json
    from pathlib import Path

    from fovea.apis.inference import ImageClassificationInferencer
    from fovea.zoo import model_index

    pretrained = args.checkpoint or (args.model in model_index() and bool(model_index()[args.model].get('weights')))
    inferencer = ImageClassificationInferencer(args.model, pretrained=pretrained or None, device=args.device)
    if not pretrained:
        print('Warning: no checkpoint given and none published for this model: predictions come from '
              'randomly initialised weights.')
    results = inferencer(args.images, batch_size=args.batch_size, skip_bad=args.skip_bad)
    records = []
    for i, res in enumerate(results):
        top = inferencer.topk(res, args.topk)
        name = res.get('img_path', f'image {i}')
        print(f'{name}: ' + ', '.join(f'{c if c is not None else lbl} ({s:.3f})' for lbl, c, s in top))
        records.append({'img_path': res.get('img_path'), 'pred_label': res['pred_label'],
                        'pred_score': res['pred_score'], 'pred_class': res['pred_class'],
                        'topk': [{'label': lbl, 'class': c, 'score': s} for lbl, c, s in top],
                        'pred_scores': [float(x) for x in res['pred_scores']]})
    skipped = inferencer.skipped
    if skipped:
        print(f'Skipped {len(skipped)} unreadable image(s):')
        for path, reason in skipped:
            print(f'  {reason}')
    if args.out:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out, json.dumps({'model': args.model, 'checkpoint': args.checkpoint,
                                                'predictions': records,
                                                'skipped': [{'img_path': p, 'reason': r} for p, r in skipped]},
                                               indent=1))
        print(f'Wrote {args.out}')
    if args.show_dir:
        from fovea.apis.inference import collect_images
        from fovea.tools.visualize import draw_text_panel, save_png
        images = collect_images(args.images, [] if args.skip_bad else None)
        for i, ((img, path), rec) in enumerate(zip(images, records)):
            lines = [f"{t['class'] if t['class'] is not None else t['label']}: {t['score']:.3f}" for t in rec['topk']]
            stem = Path(path).stem if path else f'image_{i}'
            out = save_png(draw_text_panel(img, lines), Path(args.show_dir) / f'{i:04d}_{stem}.png')
        print(f'Drew {len(records)} images into {args.show_dir} (last: {out})')
    return 0

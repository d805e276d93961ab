"""fovea analyze-results CFG RESULTS: galleries of the most confident successes and failures."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'analyze-results'
HELP = 'galleries (PNG) of the most confident correct and wrong predictions of `fovea test --out`'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config the results were computed with')
    parser.add_argument('results', help='the JSON written by `fovea test CFG CKPT --out results.json`')
    parser.add_argument('--out-dir', default='analyze_results', help='where success.png / fail.png go')
    parser.add_argument('--topk', type=int, default=20, help='images per gallery (default 20)')
    parser.add_argument('--ncols', type=int, default=5)
    add_cfg_options(parser)


def run(args) -> int:
    from pathlib import Path

    from fovea.cli._common import load_config
    from fovea.registry import DATASETS
    from fovea.tools.results import load_results, result_galleries, save_json
    from fovea.tools.visualize import make_grid, save_png

    cfg = load_config(args)
    records = load_results(args.results)
    galleries = result_galleries(records, args.topk)
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    ds_cfg = dict(loader['dataset'])
    ds_cfg['pipeline'] = []  # the images as stored, not as the model saw them
    dataset = DATASETS.build(ds_cfg, key='test_dataloader.dataset')
    classes = list(dataset.metainfo.get('classes') or [])
    name = lambda i: classes[i] if i < len(classes) else str(i)  # noqa: E731
    out_dir = Path(args.out_dir)
    for kind, recs in galleries.items():
        if not recs:
            print(f'no {kind} cases')
            continue
        images, titles = [], []
        for r in recs:
            info = dataset.get_data_info(r['sample_idx'])
            img = info.get('img')
            if img is None:
                from fovea.apis.inference import load_image
                img = load_image(info['img_path'])
            images.append(img)
            titles.append(f'{name(r["pred_label"])} {r["pred_score"]:.2f}' if kind == 'success' else
                          f'{name(r["pred_label"])} {r["pred_score"]:.2f} (gt {name(r["gt_label"])})')
        out = save_png(make_grid(images, args.ncols, titles, cell=112), out_dir / f'{kind}.png')
        save_json(recs, out_dir / f'{kind}.json')
        print(f'{len(recs)} most confident {"successes" if kind == "success" else "failures"}: {out}')
    return 0

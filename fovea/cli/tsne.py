"""fovea tsne CFG CKPT: t-SNE of the model's features on the validation set, coloured by class (PNG)."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'tsne'
HELP = 't-SNE of backbone/neck features on the validation set, coloured by class (PNG)'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='config file or shipped config name')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: randomly initialised weights)')
    parser.add_argument('--stage', choices=['backbone', 'neck', 'pre_logits'], default='neck',
                        help='which features (default neck; backbone maps are average-pooled)')
    parser.add_argument('--max-num-samples', type=int, default=1000, help='embed at most this many images')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--n-iter', type=int, default=1000, help='t-SNE iterations (default 1000)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='tsne.png', help='output PNG (default tsne.png)')
    parser.add_argument('--save-embedding', help='also save the 2-D points, labels and features (.npz)')
    parser.add_argument('--device', default='cpu')
    add_cfg_options(parser)


def run(args) -> int:
    import numpy as np

    from fovea.apis.inference import build_inference_model
    from fovea.cli.confusion_matrix import _classes
    from fovea.cli._common import load_config
    from fovea.tools.results import build_test_loader, plot_embedding, predict_dataset, tsne_embedding
    from fovea.tools.visualize import save_png

    cfg = load_config(args)
    model = build_inference_model(cfg, args.checkpoint, args.device)
    loader = build_test_loader(cfg, 'val' if cfg.get('val_dataloader') else 'test')
    records, feats = predict_dataset(model, loader, with_features=True, feature_stage=args.stage,
                                     limit=args.max_num_samples)
    labels = np.array([r.get('gt_label', r['pred_label']) for r in records])
    points = tsne_embedding(feats, args.perplexity, args.seed, args.n_iter)
    fig = plot_embedding(points, labels, _classes(cfg, model),
                         title=f't-SNE of {args.stage} features ({len(labels)} images, {feats.shape[1]}-D)')
    out = save_png(fig, args.out)
    if args.save_embedding:
        np.savez(args.save_embedding, points=points, labels=labels, features=feats)
    print(f'Embedded {len(labels)} {feats.shape[1]}-D {args.stage} features: wrote {out}')
    return 0

"""fovea mae-visualize CFG CKPT IMAGE: an MAE model's reconstruction of an image, as a PNG."""
from __future__ import annotations

from fovea.cli._common import add_cfg_options

COMMAND = 'mae-visualize'
HELP = 'MAE reconstruction picture (input, masked, reconstruction, reconstruction + visible) as a PNG'


def add_arguments(parser) -> None:
    parser.add_argument('config', help='MAE config file or shipped config name')
    parser.add_argument('checkpoint', help='checkpoint of the whole MAE model (encoder and decoder)')
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', default='mae.png', help='output PNG (default mae.png)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random mask (default 0)')
    parser.add_argument('--cell', type=int, default=224, help='pixels per panel side (default 224)')
    parser.add_argument('--device', default='cpu')
    add_cfg_options(parser)


def run(args) -> int:
    from fovea.apis.inference import build_inference_model, load_image
    from fovea.cli._common import load_config
    from fovea.tools.mae_visualize import save_mae_picture

    model = build_inference_model(load_config(args), args.checkpoint, args.device)
    path = save_mae_picture(model, load_image(args.image), args.out, seed=args.seed, cell=args.cell)
    print(f'wrote {path}: input | masked | reconstruction | reconstruction + visible')
    return 0

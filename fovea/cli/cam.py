"""fovea cam MODEL IMAGE: draw a class activation map (Grad-CAM and relatives) over an image."""
from __future__ import annotations

COMMAND = 'cam'
HELP = 'class activation map (Grad-CAM, Grad-CAM++, EigenCAM, ...) of an image, overlaid on it (PNG)'


def add_arguments(parser) -> None:
    from fovea.tools.cam import CAM_METHODS
    parser.add_argument('model', help='model name, shipped config name or config file')
    parser.add_argument('image', help='image file')
    parser.add_argument('--checkpoint', help='weights to load (default: the index\'s published weights if any)')
    parser.add_argument('--method', default='gradcam', choices=sorted(CAM_METHODS), help='CAM method (default gradcam)')
    parser.add_argument('--target-layers', nargs='+', metavar='NAME',
                        help="module names, e.g. backbone.layer4 or 'backbone.layers[-1].ln1' "
                             "(default: the last feature map / the last block's first norm)")
    parser.add_argument('--target-category', type=int, help='class index to explain (default: the predicted one)')
    parser.add_argument('--vit-like', action='store_true', default=None,
                        help='treat the target layers\' outputs as tokens (detected by default)')
    parser.add_argument('--aug-smooth', action='store_true', help='average over flips and scales')
    parser.add_argument('--eigen-smooth', action='store_true', help='keep the first principal component')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default='cam.png', help='output PNG (default cam.png)')
    parser.add_argument('--save-cam', help='also save the raw map (H, W) as a .npy file')


def run(args) -> int:
    import numpy as np
    from PIL import Image

    from fovea.apis.inference import ImageClassificationInferencer, collect_images
    from fovea.tools.cam import class_activation_map
    from fovea.tools.visualize import draw_text_panel, overlay_heatmap, save_png, to_pil
    from fovea.zoo import model_index

    pretrained = args.checkpoint or (args.model in model_index() and bool(model_index()[args.model].get('weights')))
    inf = ImageClassificationInferencer(args.model, pretrained=pretrained or None, device=args.device)
    images = collect_images(args.image)
    if len(images) != 1:
        from fovea.utils.errors import DataError
        raise DataError(f'fovea cam explains one image; {args.image} holds {len(images)}. Pass one image file.')
    (img, _), = images
    packed = inf.preprocess([(img, args.image)])
    batch = next(iter(inf.batches(packed, 1)))
    res = class_activation_map(inf.model, batch['inputs'], args.method, args.target_layers, args.target_category,
                               args.aug_smooth, args.eigen_smooth, args.vit_like)
    seen = packed[0]['inputs']  # the image as the model saw it (after resizing/cropping)
    base = to_pil(seen, min_side=224)
    overlay = overlay_heatmap(base, res['cam'])
    cat = res['target_category']
    name = inf.classes[cat] if inf.classes and cat < len(inf.classes) else str(cat)
    panel = Image.new('RGB', (base.width * 2, base.height), 'white')
    panel.paste(base, (0, 0))
    panel.paste(overlay, (base.width, 0))
    lines = [f'{args.method} of class {name} (score {res["scores"][cat]:.3f})',
             f'layers: {", ".join(res["target_layers"])}']
    out = save_png(draw_text_panel(panel, lines, min_side=0), args.out)
    if args.save_cam:
        np.save(args.save_cam, res['cam'])
    print(f'{args.method} for class {name} at {", ".join(res["target_layers"])}: wrote {out}')
    return 0

"""fovea ground MODEL IMAGE... --text T...: find the object a text describes and draw its box (BLIP grounding)."""
from __future__ import annotations

from fovea.cli._common import add_image_text_arguments, run_image_text

COMMAND = 'ground'
HELP = 'find the box of the object a text describes in each image, and draw it (BlipGrounding)'


def add_arguments(parser) -> None:
    add_image_text_arguments(parser, 'visual grounding', '--text')
    parser.add_argument('--show-dir', help='save each image with its box drawn here (<name>.png)')


def run(args) -> int:
    from fovea.apis.image_text import VisualGroundingInferencer

    def line(res) -> str:
        x1, y1, x2, y2 = (round(v, 1) for v in res['pred_bboxes'][0].tolist())
        return f'box ({x1}, {y1}, {x2}, {y2})' + (f" -> {res['visualization']}" if 'visualization' in res else '')
    return run_image_text(args, VisualGroundingInferencer,
                          lambda inf: inf(args.images, args.text, batch_size=args.batch_size, show_dir=args.show_dir),
                          line)

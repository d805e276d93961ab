"""fovea caption MODEL IMAGE...: describe images with a captioning model (BLIP)."""
from __future__ import annotations

from fovea.cli._common import add_image_text_arguments, run_image_text

COMMAND = 'caption'
HELP = 'caption images (files or folders) with a captioning model (BlipCaption)'


def add_arguments(parser) -> None:
    add_image_text_arguments(parser, 'captioning')
    parser.add_argument('--num-beams', type=int, help='beam search width (default: the config\'s; 1 is greedy)')
    parser.add_argument('--max-length', type=int, help='longest caption in tokens (default: the config\'s)')
    parser.add_argument('--min-length', type=int, help='shortest caption in tokens (default: the config\'s)')


def run(args) -> int:
    from fovea.apis.image_text import ImageCaptionInferencer
    generation = {k: v for k, v in (('num_beams', args.num_beams), ('max_length', args.max_length),
                                    ('min_length', args.min_length)) if v is not None}
    return run_image_text(args, ImageCaptionInferencer,
                          lambda inf: inf(args.images, batch_size=args.batch_size, **generation),
                          lambda res: res['pred_caption'])

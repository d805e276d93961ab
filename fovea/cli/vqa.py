"""fovea vqa MODEL IMAGE... --question Q...: answer questions about images (BLIP VQA)."""
from __future__ import annotations

from fovea.cli._common import add_image_text_arguments, run_image_text

COMMAND = 'vqa'
HELP = 'answer a question about each image (files or folders) with a VQA model (BlipVQA)'


def add_arguments(parser) -> None:
    add_image_text_arguments(parser, 'visual question answering', '--question')


def run(args) -> int:
    from fovea.apis.image_text import VisualQuestionAnsweringInferencer
    return run_image_text(args, VisualQuestionAnsweringInferencer,
                          lambda inf: inf(args.images, args.question, batch_size=args.batch_size),
                          lambda res: f"{res['question']} -> {res['pred_answer']}")

"""fovea zero-shot MODEL --classes NAME... IMAGE...: classify images into classes named on the command line (CLIP,
Chinese CLIP)."""
from __future__ import annotations

COMMAND = 'zero-shot'
HELP = 'zero-shot classify images (files or folders) into named classes with a CLIP model'


def add_arguments(parser) -> None:
    parser.add_argument('model', help='a CLIP or Chinese CLIP config (shipped name such as clip_vit-base-p32_openai or '
                                      'cn-clip_vit-base-p16_zeroshot-cls_cifar100, or a file)')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--classes', nargs='+', required=True,
                        help="class names ('cat' 'golden retriever' ...), or one text file with a name per line")
    parser.add_argument('--templates', nargs='+', default=None,
                        help="prompt templates with {} for the class name, or a set name: openai_imagenet, "
                             "openai_cifar100, vanilla (Chinese CLIP: openai) (default: the config's text_prompt)")
    parser.add_argument('--checkpoint', help='weights: OpenAI .pt, open_clip or MMPretrain checkpoint, or fovea\'s '
                                             '(Chinese CLIP: OFA-Sys, MMPretrain or transformers)')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', help="'cpu' or 'cuda' (default: cuda when available)")
    parser.add_argument('--out', help='write the predictions to this JSON file')


def _classes(values: list[str]) -> list[str]:
    from pathlib import Path
    if len(values) == 1 and Path(values[0]).is_file():
        return [line.strip() for line in Path(values[0]).read_text(encoding='utf-8').splitlines() if line.strip()]
    return values


def run(args) -> int:
    import json

    from fovea.apis.multimodal import ZeroShotClassificationInferencer
    templates = args.templates[0] if args.templates and len(args.templates) == 1 and '{' not in args.templates[0] \
        else args.templates
    inferencer = ZeroShotClassificationInferencer(args.model, pretrained=args.checkpoint or None, device=args.device,
                                                  classes=_classes(args.classes), templates=templates)
    if not args.checkpoint:
        print('Warning: no --checkpoint given: predictions come from randomly initialised weights.')
    records = []
    for i, res in enumerate(inferencer(args.images, batch_size=args.batch_size)):
        top = inferencer.topk(res, args.topk)
        print(f"{res.get('img_path', f'image {i}')}: " + ', '.join(f'{c} ({s:.3f})' for _, c, s in top))
        records.append({'img_path': res.get('img_path'), 'pred_label': res['pred_label'], 'pred_class': res['pred_class'],
                        'pred_score': res['pred_score'], 'topk': [{'class': c, 'score': s} for _, c, s in top]})
    if args.out:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(args.out, json.dumps({'model': args.model, 'checkpoint': args.checkpoint,
                                                'classes': inferencer.classes, 'predictions': records}, indent=1))
        print(f'Wrote {args.out}')
    return 0

"""fovea demo MODEL: a local web page for a model: a classifier's top-5 classes and Grad-CAM overlay; CLIP's
zero-shot classification, image-to-text and text-to-image retrieval; BLIP's caption, VQA or grounding."""
from __future__ import annotations

COMMAND = 'demo'
HELP = ('web demo (Gradio): a classifier\'s top-5 classes and Grad-CAM overlay, CLIP zero-shot '
        'classification and image-text retrieval, or BLIP captioning, VQA and grounding')


#: --task values: the tab of each image-text task
TASKS = {'caption': 'image captioning', 'vqa': 'visual question answering', 'ground': 'visual grounding'}


def add_arguments(parser) -> None:
    from fovea.tools.cam import CAM_METHODS
    parser.add_argument('model', help='model name, shipped config name or config file')
    parser.add_argument('--checkpoint', help='weights to load (default: the index\'s published weights if any)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--host', default='127.0.0.1', help='address to listen on (0.0.0.0 for the network)')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--cam-method', default='gradcam', choices=sorted(CAM_METHODS))
    parser.add_argument('--target-layers', nargs='+', help='CAM target layers (default: detected)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-examples', action='store_true', help='do not offer the sample photos')
    parser.add_argument('--task', choices=sorted(TASKS),
                        help='the tab of an image-text model the demo does not know by its type (BLIP models and '
                             'CLIP are recognised)')
    parser.add_argument('--gallery', help='CLIP: a folder of images for the text-to-image tab (default: the '
                                          'sample photos)')


def run(args) -> int:
    import os

    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    from fovea.tools.demo import build_demo, demo_tabs, example_images
    from fovea.zoo import model_index

    pretrained = args.checkpoint or (args.model in model_index() and bool(model_index()[args.model].get('weights')))
    if not pretrained:
        print('Warning: no checkpoint given and none published: the demo shows an untrained model.')
    examples = [] if args.no_examples else example_images()
    tabs = demo_tabs(args.model, pretrained or None, args.device, args.topk, gallery=args.gallery or examples,
                     cam_method=args.cam_method, target_layers=args.target_layers,
                     task=TASKS.get(args.task))
    app = build_demo(tabs, title=f'fovea: {args.model}', examples=examples)
    print(f'Serving the demo of {args.model} on http://{args.host}:{args.port}', flush=True)
    app.launch(server_name=args.host, server_port=args.port, share=False, show_error=True, inbrowser=False)
    return 0

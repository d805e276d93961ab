"""A Gradio web page for a classifier: upload or pick an image, see the top-5 classes and a Grad-CAM overlay.

:func:`build_demo` returns a ``gradio.Blocks`` app; ``fovea demo MODEL`` launches it. Element ids
``fovea-input``, ``fovea-topk``, ``fovea-cam`` and ``fovea-run`` are stable for tests and embedding.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fovea.utils.errors import require

__all__ = ['DemoPredictor', 'build_demo', 'example_images']


class DemoPredictor:
    """Top-k classes and a CAM overlay for one image (the demo's callback, usable without Gradio)."""

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu', topk: int = 5,
                 cam_method: str = 'gradcam', target_layers: Sequence[str] | None = None):
        from fovea.apis.inference import ImageClassificationInferencer
        self.inferencer = ImageClassificationInferencer(model, pretrained=pretrained, device=device)
        self.topk = topk
        self.cam_method = cam_method
        self.target_layers = list(target_layers) if target_layers else None

    def __call__(self, image: np.ndarray | None) -> tuple[dict[str, float], np.ndarray | None]:
        """``({class name: score} of the top-k, RGB overlay array)`` for an HWC RGB image."""
        if image is None:
            return {}, None
        from fovea.apis.inference import collect_images
        from fovea.tools.cam import class_activation_map
        from fovea.tools.visualize import overlay_heatmap, to_pil
        inf = self.inferencer
        (img, _), = collect_images(np.asarray(image))
        packed = inf.preprocess([(img, None)])
        res = inf([img])[0]
        top = inf.topk(res, self.topk)
        labels = {(c if c is not None else str(lbl)): s for lbl, c, s in top}
        batch = next(iter(inf.batches(packed, 1)))
        cam = class_activation_map(inf.model, batch['inputs'], self.cam_method, self.target_layers,
                                   target_category=top[0][0])
        overlay = overlay_heatmap(to_pil(packed[0]['inputs'], min_side=224), cam['cam'])
        return labels, np.asarray(overlay)


def example_images(folder: str | os.PathLike | None = None) -> list[str]:
    """A few real photos from scikit-image's sample data, written once as PNG (empty without scikit-image)."""
    try:
        from skimage import data
    except ImportError:
        return []
    from PIL import Image
    folder = Path(folder or Path.home() / '.cache' / 'fovea' / 'demo_examples')
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket'):
        path = folder / f'{name}.png'
        if not path.exists():
            arr = getattr(data, name)()
            Image.fromarray(arr).save(path)
        out.append(str(path))
    return out


def build_demo(predictor: DemoPredictor, title: str = 'fovea demo', examples: Sequence[str] = ()):
    """The Gradio app: image input, top-k label output and CAM overlay output."""
    gr = require('gradio', 'demo', 'the web demo')
    with gr.Blocks(title=title) as app:
        gr.Markdown(f'# {title}\nUpload or pick an image: the model\'s top-{predictor.topk} classes and a '
                    f'{predictor.cam_method} map of the top class.')
        with gr.Row():
            with gr.Column():
                inp = gr.Image(type='numpy', label='image', elem_id='fovea-input', image_mode='RGB')
                run = gr.Button('Classify', elem_id='fovea-run', variant='primary')
                if examples:
                    gr.Examples(examples=[[e] for e in examples], inputs=[inp])
            with gr.Column():
                label = gr.Label(num_top_classes=predictor.topk, label=f'top-{predictor.topk}', elem_id='fovea-topk')
                cam = gr.Image(type='numpy', label=f'{predictor.cam_method} overlay', elem_id='fovea-cam',
                               interactive=False)
        run.click(predictor, inputs=inp, outputs=[label, cam])
        inp.upload(predictor, inputs=inp, outputs=[label, cam])
    return app

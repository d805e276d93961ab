"""A Gradio web page for a model: one tab per thing the model does.

* a classifier: upload or pick an image, see the top-k classes and a Grad-CAM overlay (:class:`DemoPredictor`);
* CLIP: zero-shot classification into classes typed on the page (:class:`ZeroShotTab`), the texts that
  match an image (:class:`ImageToTextTab`) and the gallery images that match a text (:class:`TextToImageTab`).

Every tab is a plain callable (usable and testable without Gradio) with a ``build(gr, examples)`` method that
lays out its components. :func:`demo_tabs` picks the tabs for a model, :func:`build_demo` returns the
``gradio.Blocks`` app; ``fovea demo MODEL`` launches it. Element ids are stable for tests and embedding:
``fovea-input``, ``fovea-topk``, ``fovea-cam``, ``fovea-run`` (classifier); ``fovea-<tab>-<part>`` for the
others (e.g. ``fovea-zeroshot-image``, ``fovea-zeroshot-classes``, ``fovea-zeroshot-run``, ``fovea-zeroshot-out``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from fovea.utils.errors import DataError, require

__all__ = ['DemoPredictor', 'ZeroShotTab', 'ImageToTextTab', 'TextToImageTab', 'demo_tabs', 'build_demo',
           'example_images', 'split_lines']


def split_lines(text: str | None, commas: bool = True) -> list[str]:
    """The non-empty entries of a text box: one per line (and, with ``commas``, also split at commas)."""
    parts = re.split(r'[\n,]' if commas else r'\n', text or '')
    return [p.strip() for p in parts if p.strip()]


def _one_image(image: Any) -> torch.Tensor:
    from fovea.apis.inference import collect_images
    (img, _), = collect_images(np.asarray(image))
    return img


class DemoPredictor:
    """Top-k classes and a CAM overlay for one image (the classifier tab)."""
    title = 'Classify'

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
        from fovea.tools.cam import class_activation_map
        from fovea.tools.visualize import overlay_heatmap, to_pil
        inf = self.inferencer
        img = _one_image(image)
        packed = inf.preprocess([(img, None)])
        res = inf([img])[0]
        top = inf.topk(res, self.topk)
        labels = {(c if c is not None else str(lbl)): s for lbl, c, s in top}
        batch = next(iter(inf.batches(packed, 1)))
        cam = class_activation_map(inf.model, batch['inputs'], self.cam_method, self.target_layers,
                                   target_category=top[0][0])
        overlay = overlay_heatmap(to_pil(packed[0]['inputs'], min_side=224), cam['cam'])
        return labels, np.asarray(overlay)

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown(f'Upload or pick an image: the model\'s top-{self.topk} classes and a {self.cam_method} map '
                    f'of the top class.')
        with gr.Row():
            with gr.Column():
                inp = gr.Image(type='numpy', label='image', elem_id='fovea-input', image_mode='RGB')
                run = gr.Button('Classify', elem_id='fovea-run', variant='primary')
                if examples:
                    gr.Examples(examples=[[e] for e in examples], inputs=[inp])
            with gr.Column():
                label = gr.Label(num_top_classes=self.topk, label=f'top-{self.topk}', elem_id='fovea-topk')
                cam = gr.Image(type='numpy', label=f'{self.cam_method} overlay', elem_id='fovea-cam',
                               interactive=False)
        run.click(self, inputs=inp, outputs=[label, cam])
        inp.upload(self, inputs=inp, outputs=[label, cam])


def _image_text_tab(gr, tab: Any, name: str, text_label: str, text_value: str, button: str, output,
                    examples: Sequence[str]) -> None:
    """The layout the image+text tabs share: an image and a text box on the left, ``output`` on the right."""
    with gr.Row():
        with gr.Column():
            image = gr.Image(type='numpy', label='image', elem_id=f'fovea-{name}-image', image_mode='RGB')
            text = gr.Textbox(label=text_label, value=text_value, lines=3, elem_id=f'fovea-{name}-text')
            run = gr.Button(button, elem_id=f'fovea-{name}-run', variant='primary')
            if examples:
                gr.Examples(examples=[[e] for e in examples], inputs=[image])
        with gr.Column():
            out = output()
    run.click(tab, inputs=[image, text], outputs=out)


class ZeroShotTab:
    """CLIP zero-shot classification: an image and class names typed on the page -> class probabilities.

    Args:
        model: a CLIP model name, config or built model.
        templates: prompt templates (default: the model's ``text_prompt``).
        classes: the class names the page starts with.
    """
    title = 'Zero-shot classification'

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu', topk: int = 5,
                 templates: str | Sequence[str] | None = None, classes: Sequence[str] = ('cat', 'dog', 'car')):
        from fovea.apis.multimodal import ZeroShotClassificationInferencer
        self.inferencer = ZeroShotClassificationInferencer(model, pretrained=pretrained, device=device,
                                                           classes=list(classes), templates=templates)
        self.topk, self.classes = topk, list(classes)

    def __call__(self, image: np.ndarray | None, classes: str) -> dict[str, float]:
        """``{class name: probability}`` of the top-k for an HWC RGB image and comma/line separated names."""
        names = split_lines(classes)
        if not names:
            raise DataError('Type at least one class name (one per line, or separated by commas).')
        if image is None:
            raise DataError('Upload or pick an image first.')
        inf = self.inferencer
        inf.model.set_classes(names)
        inf.classes = names
        res = inf([_one_image(image)])[0]
        return {c: s for _, c, s in inf.topk(res, self.topk)}

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown('Classify an image into any classes you name: each becomes a text prototype averaged over '
                    'the prompt templates.')
        _image_text_tab(gr, self, 'zeroshot', 'class names (one per line or comma separated)',
                        ', '.join(self.classes), 'Classify',
                        lambda: gr.Label(num_top_classes=self.topk, label='classes', elem_id='fovea-zeroshot-out'),
                        examples)


class ImageToTextTab:
    """CLIP image-to-text retrieval: an image and candidate texts -> the texts ranked by match probability
    (softmax of the scaled cosine similarities over the candidates)."""
    title = 'Image to text'

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu', topk: int = 5,
                 texts: Sequence[str] = ('a photo of a cat', 'a photo of a dog', 'a photo of a car')):
        from fovea.apis.inference import build_inference_model
        self.model = build_inference_model(model, pretrained, device)
        self.topk, self.texts = topk, list(texts)

    def __call__(self, image: np.ndarray | None, texts: str) -> dict[str, float]:
        from fovea.apis.multimodal import ImageToTextRetrievalInferencer
        candidates = split_lines(texts, commas=False)
        if not candidates:
            raise DataError('Type at least one text to match (one per line).')
        if image is None:
            raise DataError('Upload or pick an image first.')
        inf = ImageToTextRetrievalInferencer(self.model, prototype=candidates, device=next(
            self.model.parameters()).device)
        hits = inf([_one_image(image)], topk=len(candidates))[0]
        probs = (self.model.logit_scale.exp().item() * torch.tensor([h['match_score'] for h in hits])).softmax(0)
        return {h['sample']['text']: float(p) for h, p in list(zip(hits, probs))[:self.topk]}

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown('Which of your texts describes the image best?')
        _image_text_tab(gr, self, 'i2t', 'candidate texts (one per line)', '\n'.join(self.texts), 'Match',
                        lambda: gr.Label(num_top_classes=self.topk, label='texts', elem_id='fovea-i2t-out'),
                        examples)


class TextToImageTab:
    """CLIP text-to-image retrieval: a text -> the ``topk`` gallery images that match it best.

    Args:
        model: a CLIP model name, config or built model.
        gallery: the images searched: a folder or a list of files (embedded once, at start).
    """
    title = 'Text to image'

    def __init__(self, model: Any, gallery: str | os.PathLike | Sequence[str], pretrained: bool | str | None = None,
                 device: str = 'cpu', topk: int = 4):
        from fovea.apis.multimodal import TextToImageRetrievalInferencer
        self.inferencer = TextToImageRetrievalInferencer(model, prototype=gallery, pretrained=pretrained,
                                                         device=device)
        self.topk = min(topk, self.inferencer.prototype.shape[0])

    def __call__(self, text: str) -> list[tuple[str, str]]:
        """``[(image path, 'name.jpg (0.123)'), ...]``, best first (the caption is the cosine similarity)."""
        if not (text or '').strip():
            raise DataError('Type a text to search the gallery with.')
        hits = self.inferencer(text.strip(), topk=self.topk)[0]
        return [(h['sample']['img_path'], f"{Path(h['sample']['img_path']).name} ({h['match_score']:.3f})")
                for h in hits]

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        n = self.inferencer.prototype.shape[0]
        gr.Markdown(f'Search the gallery ({n} images) with a text: the {self.topk} best matches, best first.')
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label='text', value='a photo of a cat', elem_id='fovea-t2i-text')
                run = gr.Button('Search', elem_id='fovea-t2i-run', variant='primary')
            with gr.Column():
                out = gr.Gallery(label='best matches', elem_id='fovea-t2i-out', columns=self.topk)
        run.click(self, inputs=text, outputs=out)
        text.submit(self, inputs=text, outputs=out)


def _is_clip(model: torch.nn.Module) -> bool:
    return hasattr(model, 'extract_text_feat') and hasattr(model, 'extract_image_feat')


def demo_tabs(model: Any, pretrained: bool | str | None = None, device: str = 'cpu', topk: int = 5,
              gallery: str | os.PathLike | Sequence[str] | None = None, cam_method: str = 'gradcam',
              target_layers: Sequence[str] | None = None) -> list:
    """The tabs for ``model`` (built once and shared): a classifier's, or CLIP's zero-shot, image-to-text and
    (with a ``gallery`` of images) text-to-image tabs."""
    from fovea.apis.inference import build_inference_model
    net = build_inference_model(model, pretrained, device)
    if _is_clip(net):
        tabs = [ZeroShotTab(net, device=device, topk=topk), ImageToTextTab(net, device=device, topk=topk)]
        if gallery:
            tabs.append(TextToImageTab(net, gallery, device=device, topk=min(topk, 8)))
        return tabs
    return [DemoPredictor(net, device=device, topk=topk, cam_method=cam_method, target_layers=target_layers)]


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


def build_demo(tabs: Any, title: str = 'fovea demo', examples: Sequence[str] = ()):
    """The Gradio app of one tab (a :class:`DemoPredictor`, ...) or a list of them (one Gradio tab each)."""
    gr = require('gradio', 'demo', 'the web demo')
    tabs = list(tabs) if isinstance(tabs, (list, tuple)) else [tabs]
    with gr.Blocks(title=title) as app:
        gr.Markdown(f'# {title}')
        if len(tabs) == 1:
            tabs[0].build(gr, examples)
        else:
            with gr.Tabs():
                for i, tab in enumerate(tabs):
                    with gr.Tab(tab.title, id=i, elem_id=f'fovea-tab-{i}'):
                        tab.build(gr, examples)
    return app

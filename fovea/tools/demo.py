"""A Gradio web page for a model: one tab per thing the model does.

* a classifier: upload or pick an image, see the top-k classes and a Grad-CAM overlay (:class:`DemoPredictor`);
* CLIP: zero-shot classification into classes typed on the page (:class:`ZeroShotTab`), the texts that
  match an image (:class:`ImageToTextTab`) and the gallery images that match a text (:class:`TextToImageTab`);
* BLIP: an image's caption (:class:`CaptionTab`), the answer to a question about it (:class:`VQATab`) and the
  box of a described object, drawn on it (:class:`GroundingTab`).

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

__all__ = ['DemoPredictor', 'ZeroShotTab', 'ImageToTextTab', 'TextToImageTab', 'CaptionTab', 'VQATab', 'GroundingTab',
           'TASK_TABS', 'demo_tabs', 'build_demo', 'example_images', 'split_lines']


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
        _image_tab(gr, self, 'fovea-input', 'fovea-run', 'Classify', lambda: [
            gr.Label(num_top_classes=self.topk, label=f'top-{self.topk}', elem_id='fovea-topk'),
            gr.Image(type='numpy', label=f'{self.cam_method} overlay', elem_id='fovea-cam', interactive=False)],
            examples)


def _image_tab(gr, tab: Any, image_id: str, run_id: str, button: str, output, examples: Sequence[str],
               text: tuple[str, str, str] | None = None) -> None:
    """The layout the tabs share: an image (and, with ``text`` = (element id, label, initial value), a text box)
    and a button on the left, ``output()`` (a component or a list) on the right. Image-only tabs also run
    on upload."""
    with gr.Row():
        with gr.Column():
            image = gr.Image(type='numpy', label='image', elem_id=image_id, image_mode='RGB')
            box = gr.Textbox(label=text[1], value=text[2], lines=3, elem_id=text[0]) if text else None
            run = gr.Button(button, elem_id=run_id, variant='primary')
            if examples:
                gr.Examples(examples=[[e] for e in examples], inputs=[image])
        with gr.Column():
            out = output()
    inputs = [image, box] if text else image
    run.click(tab, inputs=inputs, outputs=out)
    if not text:
        image.upload(tab, inputs=image, outputs=out)


def _image_text_tab(gr, tab: Any, name: str, text_label: str, text_value: str, button: str, output,
                    examples: Sequence[str]) -> None:
    """:func:`_image_tab` with a text box, ids ``fovea-<name>-{image,text,run}``."""
    _image_tab(gr, tab, f'fovea-{name}-image', f'fovea-{name}-run', button, output, examples,
               (f'fovea-{name}-text', text_label, text_value))


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


class CaptionTab:
    """Image captioning (BLIP): an image -> its caption, by beam search of ``num_beams``."""
    title = 'Caption'

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu', num_beams: int = 3):
        from fovea.apis.image_text import ImageCaptionInferencer
        self.inferencer = ImageCaptionInferencer(model, pretrained=pretrained, device=device)
        self.num_beams = num_beams

    def __call__(self, image: np.ndarray | None) -> str:
        if image is None:
            raise DataError('Upload or pick an image first.')
        return self.inferencer([_one_image(image)], num_beams=self.num_beams)[0]['pred_caption']

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown(f'Describe an image (beam search, {self.num_beams} beams).')
        _image_tab(gr, self, 'fovea-caption-image', 'fovea-caption-run', 'Caption',
                   lambda: gr.Textbox(label='caption', elem_id='fovea-caption-out', interactive=False), examples)


class VQATab:
    """Visual question answering (BLIP): an image and a question -> the answer."""
    title = 'Visual question answering'

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu'):
        from fovea.apis.image_text import VisualQuestionAnsweringInferencer
        self.inferencer = VisualQuestionAnsweringInferencer(model, pretrained=pretrained, device=device)

    def __call__(self, image: np.ndarray | None, question: str) -> str:
        if not (question or '').strip():
            raise DataError('Type a question about the image.')
        if image is None:
            raise DataError('Upload or pick an image first: the question is about it.')
        return self.inferencer([_one_image(image)], question.strip())[0]['pred_answer']

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown('Ask a question about an image.')
        _image_text_tab(gr, self, 'vqa', 'question', 'what is in the picture?', 'Answer',
                        lambda: gr.Textbox(label='answer', elem_id='fovea-vqa-out', interactive=False), examples)


class GroundingTab:
    """Visual grounding (BLIP): an image and a description -> the image with the described object's box."""
    title = 'Visual grounding'

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str = 'cpu'):
        from fovea.apis.image_text import VisualGroundingInferencer
        self.inferencer = VisualGroundingInferencer(model, pretrained=pretrained, device=device)

    def __call__(self, image: np.ndarray | None, text: str) -> np.ndarray:
        """The RGB image with the box drawn (in the image's own pixels)."""
        if not (text or '').strip():
            raise DataError('Describe the object to find.')
        if image is None:
            raise DataError('Upload or pick an image first.')
        img = _one_image(image)
        box = self.inferencer([img], text.strip())[0]['pred_bboxes']
        return np.asarray(self.inferencer.draw(img, box, text.strip()))

    def build(self, gr, examples: Sequence[str] = ()) -> None:
        gr.Markdown('Describe an object: its box is drawn on the image.')
        _image_text_tab(gr, self, 'ground', 'description', 'the person on the left', 'Find',
                        lambda: gr.Image(type='numpy', label='box', elem_id='fovea-ground-out', interactive=False),
                        examples)


def _is_clip(model: torch.nn.Module) -> bool:
    return hasattr(model, 'extract_text_feat') and hasattr(model, 'extract_image_feat')


#: the tab of each image-text task (``demo_tabs(task=...)``, ``fovea demo --task``)
TASK_TABS = {'image captioning': CaptionTab, 'visual question answering': VQATab, 'visual grounding': GroundingTab}


def demo_tabs(model: Any, pretrained: bool | str | None = None, device: str = 'cpu', topk: int = 5,
              gallery: str | os.PathLike | Sequence[str] | None = None, cam_method: str = 'gradcam',
              target_layers: Sequence[str] | None = None, task: str | None = None) -> list:
    """The tabs for ``model`` (built once and shared): BLIP's caption, VQA or grounding tab; CLIP's zero-shot,
    image-to-text and (with a ``gallery`` of images) text-to-image tabs; else a classifier's. ``task`` (a key of
    :data:`TASK_TABS`) chooses the tab of an image-text model fovea does not know by name."""
    from fovea.apis.image_text import MODEL_TASKS
    from fovea.apis.inference import build_inference_model
    net = build_inference_model(model, pretrained, device)
    task = task or MODEL_TASKS.get(type(net).__name__)
    if task in TASK_TABS:
        return [TASK_TABS[task](net, device=device)]
    if task is not None and not _is_clip(net):
        from fovea.utils.errors import ConfigError
        raise ConfigError(f'The demo has no tab for {task} ({type(net).__name__}); it shows image captioning, visual '
                          f'question answering, visual grounding, CLIP and classifiers.')
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

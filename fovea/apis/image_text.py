"""Inference for the image-text tasks of BLIP-style models (MMPretrain's inferencer names, arguments and
result keys): captioning, visual question answering, visual grounding (boxes drawn on the image) and NLVR.

* ``ImageCaptionInferencer(model)(images)`` -> ``[{'pred_caption': str}]``
* ``VisualQuestionAnsweringInferencer(model)(images, questions)`` -> ``[{'question', 'pred_answer'}]``
* ``VisualGroundingInferencer(model)(images, texts, show_dir=None)`` -> ``[{'pred_bboxes': (1, 4) tensor}]``
  (x1, y1, x2, y2 in pixels of the image given; ``show_dir`` saves the image with the box drawn)
* ``NLVRInferencer(model)([(left, right, sentence), ...])`` -> ``[{'pred_scores', 'pred_label', 'pred_score'}]``
  (label 1: the sentence is true of the pair)

Each result also has ``img_path`` when the image was read from a file. One text may go with many images
(``fovea vqa MODEL photos/ --question 'what is this?'``); otherwise there must be one text per image.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from fovea.apis.inference import _BaseInferencer, ImageInput, register_inferencer
from fovea.utils.errors import ConfigError, DataError

__all__ = ['ImageCaptionInferencer', 'VisualQuestionAnsweringInferencer', 'VisualGroundingInferencer',
           'NLVRInferencer']


#: what fovea's image-text models do, so that a model given to the wrong inferencer is told before it runs
MODEL_TASKS = {'BlipCaption': 'image captioning', 'BlipVQA': 'visual question answering',
               'BlipRetrieval': 'image-text retrieval', 'BlipGrounding': 'visual grounding', 'BlipNLVR': 'NLVR',
               'CLIP': 'zero-shot classification and image-text retrieval',
               'CLIPZeroShot': 'zero-shot classification and image-text retrieval',
               'ChineseCLIP': 'zero-shot classification and image-text retrieval'}


class _PredictInferencer(_BaseInferencer):
    """Images (each with its text in ``text_field``, when the task has one) through the model's ``predict``;
    the result keys are the ``result_fields`` the model sets on each DataSample."""
    task = ''
    text_field: str | None = None
    result_fields: tuple[str, ...] = ()
    models_hint = ''

    def __init__(self, model: Any, pretrained: bool | str | None = None, device: str | torch.device | None = None,
                 **overrides: Any):
        super().__init__(model, pretrained, device, **overrides)
        does = MODEL_TASKS.get(type(self.model).__name__)
        if does is not None and does != self.task:
            raise ConfigError(f'{type(self.model).__name__} does {does}, not {self.task}: {type(self).__name__} '
                              f'needs {self.models_hint}.')

    def _texts(self, texts: str | Sequence[str] | None, n: int) -> list[str] | None:
        if self.text_field is None:
            return None
        name = 'question' if self.text_field == 'question' else 'text'
        if texts is None or (not isinstance(texts, str) and not list(texts)):
            raise DataError(f'{type(self).__name__} needs a {name} for the image(s).')
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        if n == 0:
            raise DataError(f'{type(self).__name__} got {len(texts)} {name}(s) but no image: every {name} needs '
                            f'its image.')
        if len(texts) == 1:
            return texts * n
        if len(texts) != n:
            raise DataError(f'{type(self).__name__} got {n} images and {len(texts)} {name}s: give one {name} per '
                            f'image, or one for all.')
        return texts

    def _attach(self, packed: list[dict], texts: list[str]) -> None:
        """The texts went through the test pipeline (MMPretrain's clean questions with ``CleanCaption``); a
        pipeline whose ``PackInputs`` does not keep them gets them as given."""
        for p, text in zip(packed, texts):
            if self.text_field not in p['data_samples']:
                p['data_samples'].set_field(text, self.text_field)

    def _check(self, sample) -> None:
        missing = [f for f in self.result_fields if f not in sample]
        if missing:
            raise ConfigError(f'{type(self.model).__name__} does not do {self.task}: its predictions have no '
                              f'{missing[0]}. {type(self).__name__} needs {self.models_hint}.')

    def _result(self, sample) -> dict:
        res = {f: sample.get(f) for f in self.result_fields}
        if 'img_path' in sample:
            res['img_path'] = sample.img_path
        return res

    @torch.no_grad()
    def _run(self, images: ImageInput | Sequence[ImageInput], texts: Any = None, batch_size: int = 1) -> list:
        """The DataSamples the model predicts for ``images`` (and their ``texts``)."""
        pairs = self.collect(images) if images is not None else []
        texts = self._texts(texts, len(pairs))
        if not pairs:
            raise DataError(f'{type(self).__name__} got no image.')
        packed = self.preprocess(pairs, [{self.text_field: t} for t in texts] if texts is not None else None)
        if texts is not None:
            self._attach(packed, texts)
        samples = []
        for batch in self.batches(packed, batch_size):
            samples.extend(self.model(batch['inputs'], batch['data_samples'], mode='predict'))
        self._check(samples[0])
        return samples


class ImageCaptionInferencer(_PredictInferencer):
    """Caption images (MMPretrain's ``ImageCaptionInferencer``).

    Args:
        model: a captioning model (``BlipCaption``): index name, config name or file, or a built model.
        pretrained / device: as :class:`~fovea.apis.inference.ImageClassificationInferencer`.

    ``__call__(images, batch_size=1, **generation)``: one ``{'pred_caption': str}`` per image; keyword
    arguments (``num_beams``, ``max_length``, ``min_length``, ``repetition_penalty``...) override the
    model's generation settings for this call.

    Example::

        >>> ImageCaptionInferencer('blip-base_3rdparty_caption', pretrained='model_base_capfilt_large.pth')('dog.jpg')
        [{'pred_caption': 'a dog running on the beach', 'img_path': 'dog.jpg'}]
    """
    task = 'image captioning'
    result_fields = ('pred_caption',)
    models_hint = 'a captioning model (BlipCaption, configs/blip/blip-base_8xb32_caption.py)'

    def __call__(self, images: ImageInput | Sequence[ImageInput], batch_size: int = 1, **generation: Any) -> list[dict]:
        if not generation:
            return [self._result(s) for s in self._run(images, None, batch_size)]
        if not hasattr(self.model, 'generation_cfg'):
            raise ConfigError(f'{type(self.model).__name__} takes no generation settings ({sorted(generation)}).')
        saved = dict(self.model.generation_cfg)
        self.model.generation_cfg.update(generation)
        try:
            return [self._result(s) for s in self._run(images, None, batch_size)]
        finally:
            self.model.generation_cfg.clear()
            self.model.generation_cfg.update(saved)


class VisualQuestionAnsweringInferencer(_PredictInferencer):
    """Answer questions about images (MMPretrain's ``VisualQuestionAnsweringInferencer``).

    ``__call__(images, questions, batch_size=1)``: one ``{'question', 'pred_answer'}`` per image; one question
    may be asked of every image.

    Example::

        >>> VisualQuestionAnsweringInferencer('blip-base_3rdparty_vqa', pretrained=...)('cat.jpg', 'what is this?')
        [{'question': 'what is this?', 'pred_answer': 'cat', 'img_path': 'cat.jpg'}]
    """
    task = 'visual question answering'
    text_field = 'question'
    result_fields = ('pred_answer',)
    models_hint = 'a VQA model (BlipVQA, configs/blip/blip-base_8xb32_vqa.py)'

    def __call__(self, images: ImageInput | Sequence[ImageInput], questions: str | Sequence[str] | None = None,
                 batch_size: int = 1) -> list[dict]:
        return [{'question': s.question, **self._result(s)} for s in self._run(images, questions, batch_size)]


class VisualGroundingInferencer(_PredictInferencer):
    """Find the object a text describes (MMPretrain's ``VisualGroundingInferencer``).

    ``__call__(images, texts, batch_size=1, show_dir=None, line_width=3, bbox_color='lime')``: one
    ``{'pred_bboxes': (1, 4) tensor}`` per image, x1 y1 x2 y2 in pixels of the image as given. With
    ``show_dir``, each image is saved there with its box and text drawn (``<name>.png``, the path in the
    result's ``visualization``); :meth:`draw` gives the drawing as a PIL image.
    """
    task = 'visual grounding'
    text_field = 'text'
    result_fields = ('pred_bboxes',)
    models_hint = 'a grounding model (BlipGrounding, configs/blip/blip-base_8xb16_refcoco.py)'

    def __call__(self, images: ImageInput | Sequence[ImageInput], texts: str | Sequence[str] | None = None,
                 batch_size: int = 1, show_dir: str | os.PathLike | None = None, line_width: int = 3,
                 bbox_color: str = 'lime') -> list[dict]:
        pairs = self.collect(images) if images is not None else []
        samples = self._run([img for img, _ in pairs], texts, batch_size)
        out = []
        for i, ((img, path), s) in enumerate(zip(pairs, samples)):
            res = self._result(s)
            res['pred_bboxes'] = res['pred_bboxes'].detach().float().cpu().reshape(-1, 4)
            if path is not None:
                res['img_path'] = path
            if show_dir is not None:
                from fovea.tools.visualize import save_png
                name = Path(path).stem if path else f'image_{i}'
                res['visualization'] = str(save_png(self.draw(img, res['pred_bboxes'], s.text, line_width,
                                                              bbox_color), Path(show_dir) / f'{name}.png'))
            out.append(res)
        return out

    @staticmethod
    def draw(image: Any, boxes: torch.Tensor, text: str | None = None, line_width: int = 3, colour: str = 'lime'):
        """The image (uint8 CHW tensor, HWC array or PIL) with ``boxes`` (N, 4) drawn and ``text`` beside the
        first, as a PIL RGB image."""
        from fovea.apis.inference import collect_images
        from fovea.tools.visualize import draw_boxes
        img = image if isinstance(image, torch.Tensor) else collect_images(np.asarray(image))[0][0]
        return draw_boxes(img, boxes, [text] if text else None, colour=colour, width=line_width)


class NLVRInferencer(_PredictInferencer):
    """Is a sentence true of a pair of images? (MMPretrain's ``NLVRInferencer``, NLVR2.)

    ``__call__(inputs, batch_size=1)`` with ``inputs`` one ``(left image, right image, sentence)`` tuple or a
    list of them: one ``{'pred_scores': array (false, true), 'pred_label': int, 'pred_score': float}`` each.
    """
    task = 'NLVR'
    text_field = 'text'
    result_fields = ('pred_score',)
    models_hint = 'an NLVR model (BlipNLVR, configs/blip/blip-base_8xb32_nlvr.py)'

    def _build_pipeline(self, pipeline_cfg: list[dict]):
        """Each image of a pair through the per-image steps of the test pipeline (MMPretrain's NLVR pipeline
        wraps them in ``ApplyToList``)."""
        steps = []
        for t in pipeline_cfg:
            if str(t.get('type', '')).split('.')[-1] == 'ApplyToList':
                steps.extend(t.get('transforms', []))
            else:
                steps.append(t)
        return super()._build_pipeline(steps)

    @staticmethod
    def is_single(inputs: Any) -> bool:
        return isinstance(inputs, tuple)

    @torch.no_grad()
    def __call__(self, inputs: tuple | Sequence[tuple], batch_size: int = 1) -> list[dict]:
        triples = [inputs] if isinstance(inputs, tuple) else list(inputs or [])
        bad = [i for i, t in enumerate(triples) if not (isinstance(t, (tuple, list)) and len(t) == 3
                                                         and isinstance(t[2], str))]
        if not triples or bad:
            raise DataError('NLVRInferencer takes (left image, right image, sentence) tuples'
                            + (f'; input {bad[0]} is not one.' if bad else '; got none.'))
        results = []
        for start in range(0, len(triples), batch_size):
            chunk = triples[start:start + batch_size]
            left = self.preprocess([self.collect(t[0])[0] for t in chunk], [{'text': t[2]} for t in chunk])
            right = self.preprocess([self.collect(t[1])[0] for t in chunk])
            self._attach(left, [t[2] for t in chunk])
            (batch,), (second,) = self.batches(left, len(chunk)), self.batches(right, len(chunk))
            samples = self.model([batch['inputs'], second['inputs']], batch['data_samples'], mode='predict')
            self._check(samples[0])
            for s in samples:
                scores = s.pred_score.float().cpu()
                results.append({'pred_scores': scores.numpy(), 'pred_label': int(scores.argmax()),
                                'pred_score': float(scores.max())})
        return results


for _task, _cls in (('Image Caption', ImageCaptionInferencer), ('BlipCaption', ImageCaptionInferencer),
                    ('Visual Question Answering', VisualQuestionAnsweringInferencer),
                    ('BlipVQA', VisualQuestionAnsweringInferencer),
                    ('Visual Grounding', VisualGroundingInferencer), ('BlipGrounding', VisualGroundingInferencer),
                    ('NLVR', NLVRInferencer), ('BlipNLVR', NLVRInferencer)):
    register_inferencer(_task, _cls)

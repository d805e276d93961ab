"""Inference with image-text models (CLIP, Chinese CLIP): zero-shot classification of images from class names, and
retrieval between texts and images (MMPretrain's inferencer names and arguments)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from fovea.apis.inference import (ImageClassificationInferencer, ImageInput, ImageRetrievalInferencer,
                                  collect_images, register_inferencer)
from fovea.utils.errors import ConfigError, DataError

__all__ = ['ZeroShotClassificationInferencer', 'TextToImageRetrievalInferencer', 'ImageToTextRetrievalInferencer']


def _check_clip(model) -> None:
    if not hasattr(model, 'extract_text_feat') or not hasattr(model, 'extract_image_feat'):
        raise ConfigError(f'{type(model).__name__} is not an image-text model: zero-shot classification and '
                          f'text/image retrieval need a CLIP model (configs/clip/, configs/chinese_clip/).')


class ZeroShotClassificationInferencer(ImageClassificationInferencer):
    """Classify images into classes given by name, by CLIP similarity to prompt-ensembled class prototypes.

    Args:
        model / pretrained / device: as :class:`~fovea.apis.inference.ImageClassificationInferencer`.
        classes: class names (default: the model's ``text_prototype``).
        templates: prompt templates with one ``{}`` or a set name ('openai_imagenet', 'openai_cifar100',
            'vanilla'); default: the model's ``text_prompt``.

    Example::

        >>> inferencer = ZeroShotClassificationInferencer('clip_vit-base-p32_openai', pretrained='ViT-B-32.pt',
        ...                                               classes=['cat', 'dog'])
        >>> inferencer('pet.jpg')[0]['pred_class']
    """

    def __init__(self, model, pretrained: bool | str | None = None, device: str | torch.device | None = None,
                 classes: Sequence[str] | None = None, templates: str | Sequence[str] | None = None, **overrides: Any):
        super().__init__(model, pretrained, device, classes=None, **overrides)
        _check_clip(self.model)
        if classes is not None or templates is not None:
            self.model.set_classes(classes if classes is not None else self.model._classes(), templates)
        self.classes = list(self.model._classes())


class TextToImageRetrievalInferencer(ImageRetrievalInferencer):
    """For each text, the gallery ("prototype") images CLIP finds most similar.

    Args:
        model: a CLIP model name, config or built model.
        prototype: the images: a folder, a list of paths, a dataset config dict or a (N, D) tensor of
            image embeddings.
        prototype_cache: a ``.pt`` file for the gallery embeddings (read when it matches, else written).
        fast_match: accepted for MMPretrain compatibility (matching is always one matrix product).
        prepare_batch_size: batch size for the gallery.

    ``__call__(texts, topk=5, batch_size=...)``: per text, ``topk`` dicts with ``match_score``
    (cosine similarity), ``sample_idx`` and ``sample`` (the gallery entry: ``img_path``...).
    """

    def __init__(self, model, prototype: Any, prototype_cache: str | os.PathLike | None = None,
                 fast_match: bool = True, prepare_batch_size: int = 8, pretrained: bool | str | None = None,
                 device: str | torch.device | None = None, **overrides: Any):
        self.fast_match = fast_match
        super().__init__(model, prototype, prototype_cache, pretrained, device, stage='backbone',
                         prepare_batch_size=prepare_batch_size, **overrides)

    def _features(self, inputs: torch.Tensor) -> torch.Tensor:
        _check_clip(self.model)
        return F.normalize(self.model.extract_image_feat(inputs).float(), dim=1)

    @torch.no_grad()
    def __call__(self, inputs: str | Sequence[str], topk: int = 5, batch_size: int = 64) -> list[list[dict]]:
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            raise DataError('TextToImageRetrievalInferencer got no texts to search with.')
        k = min(topk, self.prototype.shape[0])
        out = []
        for i in range(0, len(texts), batch_size):
            tokens = self.model.tokenize(texts[i:i + batch_size]).to(self.device)
            feats = F.normalize(self.model.extract_text_feat(tokens).float(), dim=1)
            scores, idx = (feats @ self.prototype.T).topk(k, dim=1)
            for sc, ix in zip(scores.cpu(), idx.cpu()):
                out.append([{'match_score': float(s), 'sample_idx': int(j), 'sample': self.prototype_samples[int(j)]}
                            for s, j in zip(sc, ix)])
        return out


class ImageToTextRetrievalInferencer(ImageClassificationInferencer):
    """For each image, the texts of a gallery ("prototype") CLIP finds most similar.

    Args:
        model: a CLIP model name, config or built model.
        prototype: the texts: a list of strings, or a text file with one per line.
        prototype_cache: a ``.pt`` file for the text embeddings (read when it matches, else written).
        fast_match / prepare_batch_size: as :class:`TextToImageRetrievalInferencer`.

    ``__call__(images, topk=5, batch_size=1)``: per image, ``topk`` dicts with ``match_score``,
    ``sample_idx`` and ``sample`` (``{'text': ...}``).
    """

    def __init__(self, model, prototype: str | os.PathLike | Sequence[str], prototype_cache: str | os.PathLike | None = None,
                 fast_match: bool = True, prepare_batch_size: int = 64, pretrained: bool | str | None = None,
                 device: str | torch.device | None = None, **overrides: Any):
        super().__init__(model, pretrained, device, **overrides)
        _check_clip(self.model)
        self.fast_match = fast_match
        if isinstance(prototype, (str, os.PathLike)) and Path(prototype).is_file():
            prototype = [line.strip() for line in Path(prototype).read_text(encoding='utf-8').splitlines() if line.strip()]
        texts = [prototype] if isinstance(prototype, str) else [str(t) for t in prototype]
        if not texts:
            raise DataError('ImageToTextRetrievalInferencer: the prototype text list is empty.')
        self.prototype_samples = [{'sample_idx': i, 'text': t} for i, t in enumerate(texts)]
        self.prototype = self._text_features(texts, prototype_cache, prepare_batch_size)

    @torch.no_grad()
    def _text_features(self, texts: list[str], cache, batch_size: int) -> torch.Tensor:
        key = hashlib.sha256('\n'.join(texts).encode()).hexdigest()
        if cache is not None and os.path.isfile(cache):
            stored = torch.load(cache, map_location='cpu', weights_only=True)
            if isinstance(stored, dict) and stored.get('key') == key:
                return stored['features'].to(self.device)
        feats = torch.cat([F.normalize(self.model.extract_text_feat(
            self.model.tokenize(texts[i:i + batch_size]).to(self.device)).float(), dim=1)
            for i in range(0, len(texts), batch_size)])
        if cache is not None:
            from fovea.utils.io import atomic_save
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            payload = {'key': key, 'features': feats.cpu()}
            atomic_save(cache, lambda f: torch.save(payload, f))
        return feats

    @torch.no_grad()
    def __call__(self, inputs: ImageInput | Sequence[ImageInput], topk: int = 5, batch_size: int = 1) -> list[list[dict]]:
        packed = self.preprocess(collect_images(inputs))
        k = min(topk, self.prototype.shape[0])
        out = []
        for batch in self.batches(packed, batch_size):
            feats = F.normalize(self.model.extract_image_feat(batch['inputs']).float(), dim=1)
            scores, idx = (feats @ self.prototype.T).topk(k, dim=1)
            for sc, ix in zip(scores.cpu(), idx.cpu()):
                out.append([{'match_score': float(s), 'sample_idx': int(j), 'sample': self.prototype_samples[int(j)]}
                            for s, j in zip(sc, ix)])
        return out


for _task in ('CLIP', 'CLIPZeroShot', 'ChineseCLIP', 'Zero-Shot Classification'):
    register_inferencer(_task, ZeroShotClassificationInferencer)

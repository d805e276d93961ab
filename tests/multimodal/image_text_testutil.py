"""A small rule-based image-text model for the inferencer and demo tests: its answers are predictable, so
the tests check the plumbing (texts paired with images, boxes back in the image's pixels, drawings)."""
from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image
from torch import nn

from fovea.models.base import BaseModel
from fovea.registry import MODELS

COLOURS = ('red', 'green', 'blue')


def _colour(img: torch.Tensor) -> str:
    return COLOURS[int(img.flatten(1).mean(1).argmax())]


def _box(img: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(img.amax(0) > 128, as_tuple=True)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)


@MODELS.register_module(name='ImageTextToy', force=True)
class ImageTextToy(BaseModel):
    """Captions an image with its dominant colour, answers 'what colour' questions, boxes the bright region
    (in input pixels, divided by the sample's scale_factor as BLIP's grounding does) and says whether the two
    images of a pair share their colour. ``generates=False`` sets no caption (a retrieval model)."""

    def __init__(self, generates: bool = True):
        super().__init__()
        self.generates = generates
        self.scale = nn.Parameter(torch.ones(()))

    def predict(self, inputs, data_samples=None):
        if isinstance(inputs, list):  # NLVR: a pair of batches
            for a, b, s in zip(inputs[0], inputs[1], data_samples):
                same = _colour(a) == _colour(b)
                true = same == ('same' in s.text)
                s.set_pred_score(torch.tensor([0.2, 0.8] if true else [0.9, 0.1]))
            return data_samples
        for img, s in zip(inputs, data_samples):
            if self.generates:
                s.pred_caption = f'a {_colour(img)} picture'
            if 'question' in s:
                s.pred_answer = _colour(img) if 'colour' in s.question else 'yes'
            sx, sy = s.get('scale_factor', (1.0, 1.0))
            s.pred_bboxes = (_box(img) / torch.tensor([sx, sy, sx, sy]))[None]
        return data_samples


def write_toy_setup(root):
    """A config file for the toy (32 px test pipeline) and three 64x48 images whose bright region, red,
    green and blue, spans x 10+i..40+i, y 8..30; returns (config path, image folder)."""
    pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    cfg = root / 'toy.json'
    cfg.write_text(json.dumps({'model': {'type': 'ImageTextToy'}, 'test_pipeline': pipeline}))
    images = root / 'images'
    images.mkdir()
    for i, rgb in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        arr = np.zeros((48, 64, 3), np.uint8)
        arr[8:30, 10 + i:40 + i] = rgb
        Image.fromarray(arr).save(images / f'{i}.png')
    return str(cfg), images


def write_tiny_blip_caption(root):
    """A tiny BlipCaption config file (the test vocabulary, a 1-layer 64-wide decoder, 32 px, max_length 8)
    and a checkpoint of its random weights; returns (config path, checkpoint path, vocabulary folder)."""
    from fovea.apis.model import build_model_from_cfg
    from tests.multimodal.blip_testutil import caption_cfg, med_config, write_vocab
    vocab = write_vocab(root).parent
    model_cfg = caption_cfg(vocab, generation_cfg=dict(max_length=8))
    model_cfg['decoder_head']['decoder']['med_config'] = med_config(1, hidden=64, heads=2, intermediate=128)
    cfg = root / 'blip_caption.json'
    cfg.write_text(json.dumps({'model': model_cfg, 'test_pipeline': [dict(type='Resize', scale=(32, 32)),
                                                                    dict(type='PackInputs')]}))
    torch.manual_seed(0)
    ckpt = root / 'blip_caption.pth'
    torch.save({'state_dict': build_model_from_cfg(model_cfg).state_dict()}, ckpt)
    return str(cfg), str(ckpt), vocab

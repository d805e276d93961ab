"""The image-text inferencers (caption, VQA, grounding, NLVR), inference_model and the `fovea caption / vqa /
ground` commands, on a small rule-based model whose answers the tests can predict: what they check is the
plumbing (texts paired with images, boxes brought back to the image's pixels, drawings, errors)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fovea.apis import inference_model
from fovea.apis.image_text import (ImageCaptionInferencer, NLVRInferencer, VisualGroundingInferencer,
                                   VisualQuestionAnsweringInferencer)
from fovea.apis.inference import register_inferencer
from fovea.models.base import BaseModel
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, DataError

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


for _task, _cls in (('ImageTextToy', ImageCaptionInferencer),):
    register_inferencer(_task, _cls)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('image_text')
    pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    cfg = root / 'toy.json'
    cfg.write_text(json.dumps({'model': {'type': 'ImageTextToy'}, 'test_pipeline': pipeline}))
    images = root / 'images'
    images.mkdir()
    for i, rgb in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        arr = np.zeros((48, 64, 3), np.uint8)
        arr[8:30, 10 + i:40 + i] = rgb  # the bright region, x 10+i..40+i, y 8..30
        Image.fromarray(arr).save(images / f'{i}.png')
    return str(cfg), images


def test_caption_and_generation_errors(setup, tmp_path):
    cfg, images = setup
    inf = ImageCaptionInferencer(cfg, device='cpu')
    res = inf(str(images), batch_size=2)
    assert [r['pred_caption'] for r in res] == ['a red picture', 'a green picture', 'a blue picture']
    assert res[0]['img_path'].endswith('0.png')
    one = inference_model(cfg, str(images / '2.png'), device='cpu')
    assert one == {'pred_caption': 'a blue picture', 'img_path': str(images / '2.png')}
    with pytest.raises(ConfigError, match='ImageTextToy does not do image captioning.*BlipCaption'):
        ImageCaptionInferencer(cfg, device='cpu', generates=False)(str(images))
    with pytest.raises(ConfigError, match='takes no generation settings'):
        inf(str(images), num_beams=3)


def test_vqa_pairs_questions_with_images(setup):
    cfg, images = setup
    inf = VisualQuestionAnsweringInferencer(cfg, device='cpu')
    res = inf(str(images), 'what colour is it?')  # one question for every image
    assert [(r['question'], r['pred_answer']) for r in res] == [('what colour is it?', c) for c in COLOURS]
    res = inf([str(images / '0.png'), str(images / '1.png')], ['what colour?', 'is it round?'])
    assert [r['pred_answer'] for r in res] == ['red', 'yes']
    register_inferencer('ImageTextToy', VisualQuestionAnsweringInferencer)
    try:
        assert inference_model(cfg, str(images / '1.png'), 'which colour?', device='cpu')['pred_answer'] == 'green'
    finally:
        register_inferencer('ImageTextToy', ImageCaptionInferencer)
    with pytest.raises(DataError, match='no image'):
        inf([], 'what colour?')
    with pytest.raises(DataError, match='3 images and 2 questions'):
        inf(str(images), ['a?', 'b?'])
    with pytest.raises(DataError, match='needs a question'):
        inf(str(images))


def test_grounding_boxes_in_image_pixels_and_drawn(setup, tmp_path):
    cfg, images = setup
    inf = VisualGroundingInferencer(cfg, device='cpu')
    res = inf(str(images), 'the bright box', show_dir=tmp_path / 'vis')
    for i, r in enumerate(res):
        # 64x48 -> 32x32 and back: within one resized pixel (2 x 1.5 original pixels)
        torch.testing.assert_close(r['pred_bboxes'], torch.tensor([[10. + i, 8., 40. + i, 30.]]), atol=2.1, rtol=0)
    drawn = np.asarray(Image.open(res[0]['visualization']))
    assert drawn.shape == (48, 64, 3)
    x1, y1, x2, y2 = (int(round(v)) for v in res[0]['pred_bboxes'][0].tolist())
    assert tuple(drawn[(y1 + y2) // 2, x1]) == (0, 255, 0)  # the outline (lime) on the box's left edge
    assert tuple(drawn[47, 63]) == (0, 0, 0)  # the rest of the image untouched


def test_nlvr_pairs(setup):
    cfg, images = setup
    inf = NLVRInferencer(cfg, device='cpu')
    a, b, c = (str(images / f'{i}.png') for i in range(3))
    res = inf([(a, a, 'the same colour'), (a, b, 'the same colour'), (b, c, 'different colours')], batch_size=2)
    assert [r['pred_label'] for r in res] == [1, 0, 1]
    assert res[1]['pred_score'] == pytest.approx(0.9) and res[1]['pred_scores'].shape == (2,)
    register_inferencer('ImageTextToy', NLVRInferencer)
    try:
        assert inference_model(cfg, (a, a, 'the same colour'), device='cpu')['pred_label'] == 1
    finally:
        register_inferencer('ImageTextToy', ImageCaptionInferencer)
    with pytest.raises(DataError, match='input 0 is not one'):
        inf([(a, 'no sentence')])


def test_cli_commands(setup, tmp_path, capsys):
    from fovea.cli.main import main
    cfg, images = setup
    out = tmp_path / 'captions.json'
    with pytest.raises(SystemExit) as done:
        main(['caption', cfg, str(images), '--out', str(out)])
    assert done.value.code == 0 and 'a green picture' in capsys.readouterr().out
    assert [r['pred_caption'] for r in json.loads(out.read_text())['results']][0] == 'a red picture'
    with pytest.raises(SystemExit) as done:
        main(['vqa', cfg, str(images / '0.png'), str(images / '2.png'), '--question', 'what colour?'])
    assert done.value.code == 0 and 'what colour? -> blue' in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(['ground', cfg, str(images / '1.png'), '--text', 'the box', '--show-dir', str(tmp_path / 'vis'),
              '--out', str(tmp_path / 'boxes.json')])
    assert done.value.code == 0 and (tmp_path / 'vis' / '1.png').is_file()
    box = json.loads((tmp_path / 'boxes.json').read_text())['results'][0]['pred_bboxes'][0]
    assert box == pytest.approx([11, 8, 41, 30], abs=2.1)
    with pytest.raises(SystemExit) as failed:
        main(['vqa', cfg, str(images), '--question', 'a?', 'b?'])
    assert failed.value.code == 1 and '3 images and 2 questions' in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- BLIP models
@pytest.fixture(scope='module')
def blip_caption(tmp_path_factory, setup):
    """A tiny BlipCaption config file (test vocabulary) and a checkpoint of its random weights."""
    from fovea.apis.model import build_model_from_cfg
    from tests.multimodal.blip_testutil import caption_cfg, med_config, write_vocab
    root = tmp_path_factory.mktemp('blip')
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


def test_blip_caption_through_the_inferencer(blip_caption, setup):
    cfg, ckpt, _ = blip_caption
    _, images = setup
    inf = ImageCaptionInferencer(cfg, pretrained=ckpt, device='cpu')
    res = inf(str(images), batch_size=2, num_beams=3)
    batch = next(iter(inf.batches(inf.preprocess(inf.collect(str(images))), 3)))
    assert [r['pred_caption'] for r in res] == inf.model.generate(batch['inputs'], num_beams=3)
    assert inf.model.generation_cfg == {'max_length': 8}  # the call's settings do not stay
    assert inference_model(cfg, str(images / '0.png'), pretrained=ckpt, device='cpu')['pred_caption'] == \
        inf(str(images / '0.png'))[0]['pred_caption']


def test_a_retrieval_model_is_refused_for_captioning(blip_caption):
    from fovea.apis.model import build_model_from_cfg
    from tests.multimodal.blip_testutil import retrieval_cfg
    _, _, vocab = blip_caption
    retrieval = build_model_from_cfg(retrieval_cfg(vocab))
    with pytest.raises(ConfigError, match='BlipRetrieval does image-text retrieval, not image captioning.*BlipCaption'):
        ImageCaptionInferencer(retrieval, device='cpu')

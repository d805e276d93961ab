"""The image-text inferencers (caption, VQA, grounding, NLVR), inference_model and the `fovea caption / vqa /
ground` commands, on a small rule-based model whose answers the tests can predict (image_text_testutil:
what they check is the plumbing: texts paired with images, boxes brought back to the image's pixels,
drawings, errors), and on a tiny BlipCaption."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fovea.apis import inference_model
from fovea.apis.image_text import (ImageCaptionInferencer, NLVRInferencer, VisualGroundingInferencer,
                                   VisualQuestionAnsweringInferencer)
from fovea.apis.inference import register_inferencer
from fovea.utils.errors import ConfigError, DataError
from tests.multimodal.image_text_testutil import COLOURS, write_tiny_blip_caption, write_toy_setup

for _task, _cls in (('ImageTextToy', ImageCaptionInferencer),):
    register_inferencer(_task, _cls)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    return write_toy_setup(tmp_path_factory.mktemp('image_text'))


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
def blip_caption(tmp_path_factory):
    return write_tiny_blip_caption(tmp_path_factory.mktemp('blip'))


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


def _task_config(root, name: str, model_cfg: dict, shipped: str) -> str:
    """A config file of a tiny model with the test pipeline of the shipped config (its images at 32 px)."""
    from fovea.apis.inference import _test_pipeline_cfg
    from fovea.config import Config
    text = json.dumps(_test_pipeline_cfg(Config.fromfile(shipped)))
    pipeline = json.loads(text.replace('[384, 384]', '[32, 32]').replace('[480, 480]', '[32, 32]'))
    assert '32, 32' in json.dumps(pipeline)
    cfg = root / f'{name}.json'
    cfg.write_text(json.dumps({'model': model_cfg, 'test_pipeline': pipeline}))
    return str(cfg)


@pytest.fixture(scope='module')
def blip_tasks(tmp_path_factory):
    """Config files of tiny BlipVQA (generation), BlipGrounding and BlipNLVR (blip_task_models)."""
    from tests.multimodal import blip_task_models as tm
    root = tmp_path_factory.mktemp('blip_tasks')
    vqa = tm.vqa_cfg(root, inference_method='generate')
    ground = dict(type='BlipGrounding', tokenizer=tm.tokenizer_cfg(root), visual_encoder=tm.vit(),
                  text_encoder=dict(type='XBertEncoder', med_config=tm.bert()),
                  multimodal_encoder=dict(type='XBertEncoder', med_config=tm.bert()),
                  head=dict(type='GroundingHead', decoder=dict(type='XBertLMHeadDecoder', med_config=tm.bert())))
    nlvr = dict(type='BlipNLVR', tokenizer=tm.tokenizer_cfg(root), vision_backbone=tm.vit(),
                multimodal_backbone=dict(type='BertModel', config=tm.bert(layers=7, nlvr=True),
                                         add_pooling_layer=False))
    return {k: _task_config(root, k, v, shipped) for k, v, shipped in (
        ('vqa', vqa, 'blip-base_8xb32_vqa'), ('ground', ground, 'blip-base_8xb16_refcoco'),
        ('nlvr', nlvr, 'blip-base_8xb32_nlvr'))}


def _preprocessed(inf, images, **fields):
    from fovea.data.collate import default_collate
    pairs = inf.collect(images)
    packed = inf.preprocess(pairs, [fields] * len(pairs))
    return inf.model.data_preprocessor(default_collate(packed), False)


def test_blip_task_models_through_the_inferencers(blip_tasks, setup):
    """The real BLIP task models, with the shipped configs' test pipelines (CleanCaption on the question or
    sentence, PackInputs keeping it, NLVR's ApplyToList), take what the inferencers give them: questions,
    sentences, pairs of images, scale factors (boxes back in the 64x48 images' pixels), and answer as when
    called directly."""
    _, images = setup
    torch.manual_seed(0)
    vqa = VisualQuestionAnsweringInferencer(blip_tasks['vqa'], device='cpu')
    res = vqa(str(images), 'What is in the picture?', batch_size=3)
    assert res[0]['question'] == 'what is in the picture'  # cleaned by the pipeline, as in evaluation
    batch = _preprocessed(vqa, str(images), question='what is in the picture')
    direct = vqa.model.predict(batch['inputs'], batch['data_samples'])
    assert [r['pred_answer'] for r in res] == [s.pred_answer for s in direct]

    ground = VisualGroundingInferencer(blip_tasks['ground'], device='cpu')
    box = ground(str(images / '0.png'), 'the red box')[0]['pred_bboxes']
    batch = _preprocessed(ground, str(images / '0.png'), text='the red box')
    torch.testing.assert_close(box, ground.model.predict(batch['inputs'], batch['data_samples'])[0].pred_bboxes)
    assert box.shape == (1, 4) and 0 <= float(box[0, 0]) <= float(box[0, 2]) <= 64 + 1e-4  # x in 0..64, not 0..32

    nlvr = NLVRInferencer(blip_tasks['nlvr'], device='cpu')
    a, b = str(images / '0.png'), str(images / '1.png')
    res = nlvr([(a, b, 'the two pictures differ'), (b, b, 'the same picture twice')], batch_size=2)
    left, right = _preprocessed(nlvr, [a, b], text='x'), _preprocessed(nlvr, [b, b], text='x')
    for s, t in zip(left['data_samples'], ['the two pictures differ', 'the same picture twice']):
        s.text = t
    scores = nlvr.model.predict([left['inputs'], right['inputs']], left['data_samples'])
    np.testing.assert_allclose(np.stack([r['pred_scores'] for r in res]),
                               torch.stack([s.pred_score for s in scores]).numpy(), atol=1e-6)
    with pytest.raises(ConfigError, match='BlipNLVR does NLVR, not visual question answering'):
        VisualQuestionAnsweringInferencer(nlvr.model, device='cpu')

"""Zero-shot classification and image-text retrieval through the inference API and the CLI, and the
RetrievalRecall metric."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from fovea.apis.inference import inference_model
from fovea.apis.multimodal import (ImageToTextRetrievalInferencer, TextToImageRetrievalInferencer,
                                   ZeroShotClassificationInferencer)
from fovea.evaluation.retrieval import RetrievalRecall, image_text_recall
from fovea.models.multimodal.clip.archs import clip_model_cfg
from fovea.utils.errors import ConfigError
from tests.multimodal.clip_testutil import TINY_VIT


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('clip')
    cfg = root / 'tiny_clip.json'
    pipeline = [dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    cfg.write_text(json.dumps({'model': clip_model_cfg(TINY_VIT), 'test_pipeline': pipeline,
                               'test_dataloader': {'dataset': {'type': 'CustomDataset', 'pipeline': pipeline}}}))
    images = root / 'images'
    images.mkdir()
    for i, rgb in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        Image.new('RGB', (48, 40), rgb).save(images / f'{i}.png')
    return cfg, images


def test_zero_shot_inferencer_and_inference_model(setup):
    cfg, images = setup
    inf = ZeroShotClassificationInferencer(str(cfg), device='cpu', classes=['red', 'green', 'blue'],
                                           templates=['a {} square'])
    results = inf(str(images), batch_size=2)
    assert len(results) == 3 and all(r['pred_class'] in ('red', 'green', 'blue') for r in results)
    assert all(abs(float(r['pred_scores'].sum()) - 1) < 1e-5 for r in results)
    via_api = inference_model(str(cfg), str(images / '0.png'), device='cpu', classes=['red', 'green', 'blue'],
                              templates=['a {} square'])
    assert via_api['pred_class'] == results[0]['pred_class']
    with pytest.raises(ConfigError, match='class list is empty'):
        ZeroShotClassificationInferencer(str(cfg), device='cpu', classes=[])


def test_zero_shot_cli(setup, tmp_path, capsys):
    from fovea.cli.main import main
    cfg, images = setup
    out = tmp_path / 'pred.json'
    with pytest.raises(SystemExit) as done:
        main(['zero-shot', str(cfg), str(images), '--classes', 'red', 'green', 'blue', '--topk', '2',
              '--templates', 'a photo of a {}.', 'art of a {}.', '--out', str(out)])
    assert done.value.code == 0
    record = json.loads(out.read_text())
    assert record['classes'] == ['red', 'green', 'blue'] and len(record['predictions']) == 3
    assert len(record['predictions'][0]['topk']) == 2
    classes = tmp_path / 'classes.txt'
    classes.write_text('\n\n')
    with pytest.raises(SystemExit) as failed:
        main(['zero-shot', str(cfg), str(images), '--classes', str(classes)])
    assert failed.value.code == 1 and 'class list is empty' in capsys.readouterr().err


def test_retrieval_inferencers(setup, tmp_path):
    cfg, images = setup
    t2i = TextToImageRetrievalInferencer(str(cfg), prototype=str(images), prototype_cache=tmp_path / 'g.pt',
                                         device='cpu')
    hits = t2i(['a red square', 'a blue square'], topk=2)
    assert len(hits) == 2 and len(hits[0]) == 2 and hits[0][0]['match_score'] >= hits[0][1]['match_score']
    assert hits[0][0]['sample']['img_path'].endswith('.png')
    cached = TextToImageRetrievalInferencer(str(cfg), prototype=str(images), prototype_cache=tmp_path / 'g.pt',
                                            device='cpu')
    torch.testing.assert_close(cached.prototype, t2i.prototype)
    texts = ['a red square', 'a green square', 'a blue square', 'a cat']
    i2t = ImageToTextRetrievalInferencer(t2i.model, prototype=texts, device='cpu')
    res = i2t(str(images), topk=3)
    assert len(res) == 3 and res[0][0]['sample']['text'] in texts
    # both directions rank with the same similarities
    sim = t2i.prototype @ i2t.prototype.T  # (images, texts)
    order = [h['img_path'] for h in t2i.prototype_samples]
    for r, path in zip(res, sorted(str(p) for p in images.glob('*.png'))):
        assert r[0]['sample_idx'] == int(sim[order.index(path)].argmax())


def test_retrieval_recall():
    pred = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1], [0.1, 0.2, 0.3]])
    assert RetrievalRecall.calculate(pred, [[2], [1], [0]], topk=(1, 2, 3)) == [pytest.approx(100 / 3), 
                                                                               pytest.approx(200 / 3), 100.0]
    metric = RetrievalRecall(topk=(1, 2))
    from fovea.structures import DataSample
    metric.process(None, [DataSample(pred_score=p, gt_label=torch.tensor(t)) for p, t in zip(pred, [2, 1, 0])])
    assert metric.evaluate(3) == {'retrieval/Recall@1': pytest.approx(100 / 3), 'retrieval/Recall@2': pytest.approx(200 / 3)}
    feats = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    recall = image_text_recall(feats, feats, topk=(1,))
    assert recall == {'i2t_R@1': 100.0, 't2i_R@1': 100.0}
    # two captions per image: caption j belongs to image j // 2
    two = image_text_recall(feats[:3], feats[[0, 0, 1, 1, 2, 2]], text_to_image=[0, 0, 1, 1, 2, 2], topk=(1,))
    assert two == {'i2t_R@1': 100.0, 't2i_R@1': 100.0}
    with pytest.raises(ConfigError):
        RetrievalRecall(topk=0)

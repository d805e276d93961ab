"""Inference API and `fovea infer`: results match the model applied in-process."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fovea.apis import FeatureExtractor, ImageClassificationInferencer, ImageRetrievalInferencer, inference_model
from fovea.apis.inference import collect_images
from fovea.utils.errors import ConfigError, DataError
from tests.tools.conftest import is_png


@pytest.fixture(scope='module')
def inferencer(lenet_run):
    return ImageClassificationInferencer(lenet_run['config'], pretrained=lenet_run['checkpoint'], device='cpu')


def test_classification_matches_model_forward(inferencer, digit_images):
    imgs, labels = digit_images
    res = inferencer(imgs, batch_size=7)
    assert len(res) == len(imgs)
    # the same images through the dataset pipeline and the raw model
    x = torch.stack([torch.nn.functional.interpolate(i[None].float(), size=32, mode='bilinear',
                                                     antialias=True)[0] for i in imgs])
    with torch.no_grad():
        logits = inferencer.model((x - 77.9) / 95.9, mode='tensor')
    probs = logits.softmax(1).numpy()
    got = np.stack([r['pred_scores'] for r in res])
    np.testing.assert_allclose(got, probs, atol=2e-3)
    assert [r['pred_label'] for r in res] == probs.argmax(1).tolist()
    assert all(r['pred_class'] == str(r['pred_label']) for r in res)
    assert all(abs(r['pred_score'] - r['pred_scores'].max()) < 1e-6 for r in res)
    assert (probs.argmax(1) == labels).mean() > 0.75  # a trained model, not chance (10%)


def test_input_kinds_agree(inferencer, photo_dir):
    from PIL import Image
    path = photo_dir / 'astronaut.png'
    pil = Image.open(path)
    arr = np.asarray(pil)
    ten = torch.from_numpy(arr.copy()).permute(2, 0, 1)
    outs = [inferencer(x)[0]['pred_scores'] for x in (str(path), pil, arr, ten, ten.float() / 255)]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], atol=1e-5)
    folder = inferencer(photo_dir, batch_size=2)
    assert [r['img_path'].split('/')[-1] for r in folder] == ['astronaut.png', 'camera.png', 'coffee.jpg']
    batch = inferencer(torch.stack([ten, ten]))
    assert len(batch) == 2


def test_bad_inputs_explain(inferencer, tmp_path):
    with pytest.raises(DataError, match='does not exist'):
        collect_images(str(tmp_path / 'nope.png'))
    with pytest.raises(DataError, match='holds no images'):
        collect_images(tmp_path)
    with pytest.raises(DataError, match='cannot read an image'):
        collect_images([3.5])
    with pytest.raises(ConfigError, match='lenet5_digits'):
        ImageClassificationInferencer('lenet5_digit')


def test_inference_model_and_features(lenet_run, digit_images):
    imgs, _ = digit_images
    one = inference_model(lenet_run['config'], imgs[0], pretrained=lenet_run['checkpoint'], device='cpu')
    assert isinstance(one, dict) and 0 <= one['pred_label'] < 10
    fe = FeatureExtractor(lenet_run['config'], pretrained=lenet_run['checkpoint'], stage='neck', device='cpu')
    feats = fe(imgs[:3], batch_size=2)
    assert len(feats) == 3
    f0 = feats[0][-1] if isinstance(feats[0], tuple) else feats[0]
    assert f0.shape == (120,)
    head = fe.model.head.fc
    np.testing.assert_allclose(head(f0[None]).softmax(1)[0].detach().numpy(), one['pred_scores'], atol=1e-5)


def test_retrieval_finds_same_class_and_caches(lenet_run, digit_images, tmp_path):
    imgs, labels = digit_images
    cache = tmp_path / 'gallery.pt'
    kw = dict(pretrained=lenet_run['checkpoint'], device='cpu', prototype_cache=cache)
    ret = ImageRetrievalInferencer(lenet_run['config'], prototype=dict(type='Digits', split='train', indices=300), **kw)
    assert cache.is_file()
    matches = ret(imgs[:10], topk=3, batch_size=4)
    assert len(matches) == 10 and all(len(m) == 3 for m in matches)
    assert all(m[0]['match_score'] >= m[1]['match_score'] >= m[2]['match_score'] for m in matches)
    top1_same = np.mean([m[0]['sample']['gt_label'] == y for m, y in zip(matches, labels[:10])])
    assert top1_same >= 0.7
    again = ImageRetrievalInferencer(lenet_run['config'], prototype=dict(type='Digits', split='train', indices=300),
                                     **kw)
    torch.testing.assert_close(again.prototype, ret.prototype)
    # a tensor gallery: the query's own features come back first with similarity 1
    q = ret._features(ret.model.data_preprocessor(
        __import__('fovea.data.collate', fromlist=['x']).default_collate(ret.preprocess(collect_images(imgs[:4]))),
        False)['inputs'])
    tens = ImageRetrievalInferencer(lenet_run['config'], prototype=q, pretrained=lenet_run['checkpoint'], device='cpu')
    hits = tens(imgs[:4], topk=1)
    assert [h[0]['sample_idx'] for h in hits] == [0, 1, 2, 3]
    assert all(abs(h[0]['match_score'] - 1) < 1e-4 for h in hits)


def test_infer_cli(lenet_run, photo_dir, tmp_path, inferencer, capsys):
    from fovea.cli.main import main
    out = tmp_path / 'preds.json'
    with pytest.raises(SystemExit) as e:
        main(['infer', 'lenet5_digits', str(photo_dir), '--checkpoint', lenet_run['checkpoint'], '--topk', '3',
              '--out', str(out), '--show-dir', str(tmp_path / 'show'), '--device', 'cpu'])
    assert e.value.code == 0
    preds = json.loads(out.read_text())['predictions']
    assert len(preds) == 3 and all(len(p['topk']) == 3 for p in preds)
    direct = inferencer(photo_dir)
    for p, d in zip(preds, direct):
        assert p['pred_label'] == d['pred_label']
        np.testing.assert_allclose(p['pred_scores'], d['pred_scores'], atol=1e-6)
    pngs = sorted((tmp_path / 'show').glob('*.png'))
    assert len(pngs) == 3 and all(is_png(p) for p in pngs)
    assert 'astronaut.png' in capsys.readouterr().out

"""RetrievalValLoop / RetrievalTestLoop (engine/retrieval.py) on COCORetrieval's test samples from the shipped
coco_retrieval base and the official-format fixture: gt ids line up with the features across batches."""
from __future__ import annotations

import os

import pytest
import torch

from fovea.config import Config
from fovea.models.base import BaseModel
from fovea.structures import DataSample

pytest.importorskip('skimage', reason="the photos are scikit-image's samples: pip install scikit-image")
from multimodal_testutil import PHOTOS, write_coco  # noqa: E402

WORDS = [what.split()[-1] for _, what, _ in PHOTOS.values()]  # astronaut, coffee, cat, rocket


class WordRetriever(BaseModel):
    """A stand-in retrieval model: an image's feature is the one-hot of the photo behind its ``image_id``
    (``photo_of``, from the test), a caption's the one-hot of the photo word it names; ``shift`` rolls the image
    features (every image then matches another photo's captions)."""

    def __init__(self, photo_of: list[int], shift: int = 0, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.photo_of, self.shift = photo_of, shift
        self.seen_batches = 0

    def _forward(self, images, data_samples=None):
        self.seen_batches += 1
        assert images.shape[-2:] == (384, 384) and images.is_floating_point()  # preprocessed
        eye = torch.eye(len(WORDS))
        ids = [self.photo_of[(s.image_id + self.shift) % len(self.photo_of)] for s in data_samples]
        texts = [t for s in data_samples for t in s.text]
        return {'image_feat': eye[ids], 'text_feat': eye[[next(i for i, w in enumerate(WORDS) if w in t)
                                                          for t in texts]]}

    def predict_all(self, feats, data_samples, num_images=None, num_texts=None):
        sim = feats['image_feat'] @ feats['text_feat'].T
        sim = sim + 1e-3 * torch.rand(sim.shape, generator=torch.Generator().manual_seed(0))  # no ties
        i2t = [DataSample(pred_score=row, gt_label=s.gt_text_id) for row, s in zip(sim, data_samples)]
        t2i = [DataSample(pred_score=col, gt_label=int(g)) for col, g in
               zip(sim.T, [g for s in data_samples for g in s.gt_image_id])]
        assert (len(i2t), len(t2i)) == (num_images, num_texts)
        return i2t, t2i


def _runner(tmp_path, shift=0, model=None, pipeline=None, **overrides):
    from fovea.engine.runner import Runner
    from fovea.registry import DATASETS
    write_coco(tmp_path / 'coco')
    base = Config.fromfile(os.path.join(os.path.dirname(__file__), '..', '..', 'fovea', 'configs', '_base_',
                                        'datasets', 'coco_retrieval.py'))
    loader = dict(base['val_dataloader'], batch_size=2, num_workers=0)  # 3 images over 2 batches
    loader.pop('persistent_workers')
    loader['dataset'] = dict(loader['dataset'], data_root=str(tmp_path / 'coco'))
    if pipeline is not None:
        loader['dataset']['pipeline'] = pipeline
    ds = DATASETS.build(dict(loader['dataset'], pipeline=[]))
    photo_of = [WORDS.index(PHOTOS[d['ori_id']][1].split()[-1]) for d in ds.data_list]
    cfg = Config(dict(work_dir=str(tmp_path / 'run'),
                      model=model or dict(type=WordRetriever, photo_of=photo_of, shift=shift,
                                          data_preprocessor=dict(base['data_preprocessor'])),
                      val_dataloader=loader, val_evaluator=base['val_evaluator'], val_cfg=dict(type='RetrievalValLoop'),
                      test_dataloader=loader, test_evaluator=base['test_evaluator'],
                      test_cfg=dict(type='RetrievalTestLoop'), **overrides))
    return Runner.from_cfg(cfg)


def test_retrieval_val_loop_ranks_every_image_against_every_caption(tmp_path):
    runner = _runner(tmp_path)
    metrics = runner.test()
    assert runner.model.seen_batches == 2
    assert metrics == {f'{d}/retrieval/Recall@{k}': 100.0 for d in ('i2t', 't2i') for k in (1, 5, 10)}
    assert runner.val() == metrics


def test_retrieval_loop_scores_a_wrong_model_low(tmp_path):
    runner = _runner(tmp_path, shift=1)
    metrics = runner.val()  # a fresh runner's val() sets its run up as test() does (it used to fail logging)
    assert 'i2t/retrieval/Recall@1' in (runner.run_dir / 'scalars.json').read_text()
    # each image's feature is another photo's: its own captions never rank first (R@10 covers all 6 captions)
    assert metrics['i2t/retrieval/Recall@1'] == 0 and metrics['t2i/retrieval/Recall@1'] == 0
    assert metrics['i2t/retrieval/Recall@10'] == 100


def test_retrieval_loop_with_blip_retrieval_equals_one_whole_split_prediction(tmp_path):
    """A small BlipRetrieval (random weights, ITM re-scoring of the top 2): the loop over 2 batches gives the
    recall of one prediction over the whole split."""
    from fovea.registry import METRICS
    from tests.multimodal.blip_testutil import retrieval_cfg, write_vocab
    (tmp_path / 'vocab').mkdir()
    vocab = write_vocab(tmp_path / 'vocab').parent
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),
                dict(type='CleanCaption', keys='text'),
                dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id'])]
    torch.manual_seed(0)
    cfg = dict(retrieval_cfg(vocab), topk=2)
    runner = _runner(tmp_path, model=dict(cfg, data_preprocessor=dict(type='MultiModalDataPreprocessor',
                                                                      mean=[127.5] * 3, std=[64.] * 3)),
                     pipeline=pipeline)
    metrics = runner.test()
    model, loader = runner.model.eval(), runner.test_loop.dataloader  # the loop restores training mode
    samples = [s for b in loader for s in b['data_samples']]
    images = torch.cat([model.data_preprocessor(b, False)['inputs'] for b in loader])
    i2t, t2i = model.predict(images, samples)
    expected = {}
    for name, preds in (('i2t', i2t), ('t2i', t2i)):
        recall = METRICS.build(dict(type='RetrievalRecall', topk=(1, 5, 10)))
        recall.process(None, preds)
        expected.update({f'{name}/{k}': v for k, v in recall.evaluate(len(preds)).items()})
    assert metrics == pytest.approx(expected) and set(metrics) == {
        f'{d}/retrieval/Recall@{k}' for d in ('i2t', 't2i') for k in (1, 5, 10)}

"""The shipped VQA, RefCOCO and NLVR2 dataset bases feed BlipVQA, BlipGrounding and BlipNLVR: batches of the
official-format fixtures (real photos) through the configs' own pipelines, loader and data preprocessor
train a step and give predictions that the configs' metrics score."""
from __future__ import annotations

import os

import pytest
import torch

from fovea.apis.model import build_model_from_cfg
from fovea.config import Config
from fovea.data.loader import build_dataloader
from fovea.registry import METRICS
from tests.multimodal.blip_task_models import bert, tokenizer_cfg

CONFIGS = os.path.join(os.path.dirname(__file__), '..', '..', 'fovea', 'configs', '_base_', 'datasets')


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    pytest.importorskip('skimage', reason="the photos are scikit-image's samples: pip install scikit-image")
    from tests.multimodal_testutil import write_datasets
    return write_datasets(tmp_path_factory.mktemp('blip_task_data')), tmp_path_factory.mktemp('blip_task_vocab')


def _rooted(ds: dict, root) -> dict:
    if ds['type'] == 'ConcatDataset':
        return dict(ds, datasets=[_rooted(d, root) for d in ds['datasets']])
    return dict(ds, data_root=str(root / os.path.basename(ds['data_root'].rstrip('/'))))


def _batch(name: str, key: str, root):
    cfg = Config.fromfile(os.path.join(CONFIGS, name))
    ds = _rooted(cfg[key]['dataset'], root)
    loader = build_dataloader(dict(cfg[key], dataset=ds, batch_size=2, num_workers=0, drop_last=False,
                                   persistent_workers=False), seed=0, key=key)
    return cfg, next(iter(loader))


def _vit(size: int) -> dict:
    return dict(type='VisionTransformer', arch=dict(embed_dims=64, num_layers=1, num_heads=2, feedforward_channels=64),
                img_size=size, patch_size=size // 4, out_type='raw')


def _train_step_and_predict(model, cfg, train, test):
    model.train()
    data = model.data_preprocessor(train, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    preds = model.val_step(test)
    evaluators = cfg['val_evaluator'] if 'val_evaluator' in cfg else cfg['test_evaluator']
    metric = METRICS.build(dict(evaluators[0] if isinstance(evaluators, list) else evaluators))
    metric.process(None, preds)
    return preds, metric.compute_metrics(metric.results)


def test_vqa_dataset_feeds_blip_vqa(roots):
    root, vocab = roots
    _, train = _batch('coco_vg_vqa.py', 'train_dataloader', root)     # VQAv2 + Visual Genome, 480 px crops
    cfg, test = _batch('coco_vqa.py', 'val_dataloader', root)          # VQAv2 val with answers, 480 px
    model = build_model_from_cfg(dict(
        type='BlipVQA', tokenizer=tokenizer_cfg(vocab), vision_backbone=_vit(480), data_preprocessor=cfg['data_preprocessor'],
        multimodal_backbone=dict(type='XBertEncoder', med_config=bert(layers=1)),
        head=dict(type='VQAGenerationHead', num_beams=2, decoder=dict(type='XBertLMHeadDecoder', med_config=bert(layers=1)))))
    preds, metrics = _train_step_and_predict(model, cfg, train, test)
    assert all(isinstance(s.pred_answer, str) for s in preds) and 0 <= metrics['acc'] <= 100


def test_refcoco_dataset_feeds_blip_grounding(roots):
    root, vocab = roots
    cfg, train = _batch('refcoco.py', 'train_dataloader', root)
    _, test = _batch('refcoco.py', 'val_dataloader', root)
    model = build_model_from_cfg(dict(
        type='BlipGrounding', tokenizer=tokenizer_cfg(vocab), visual_encoder=_vit(384),
        data_preprocessor=dict(cfg['data_preprocessor'], type='MultiModalDataPreprocessor'),
        text_encoder=dict(type='XBertEncoder', med_config=bert(layers=1)),
        multimodal_encoder=dict(type='XBertEncoder', med_config=bert(layers=1)),
        head=dict(type='GroundingHead', decoder=dict(type='XBertLMHeadDecoder', med_config=bert(layers=1)))))
    preds, metrics = _train_step_and_predict(model, cfg, train, test)
    for s in preds:       # the original image's pixels, as the annotation
        sx, sy = s.scale_factor
        w, h = 384 / sx, 384 / sy
        assert s.pred_bboxes.shape == (1, 4) and (s.pred_bboxes[:, 0::2] <= w + 1e-3).all()
        assert (s.pred_bboxes[:, 1::2] <= h + 1e-3).all()
    assert set(metrics) == {'miou', 'acc'}


def test_nlvr2_dataset_feeds_blip_nlvr(roots):
    root, vocab = roots
    cfg, train = _batch('nlvr2.py', 'train_dataloader', root)
    _, test = _batch('nlvr2.py', 'val_dataloader', root)
    model = build_model_from_cfg(dict(
        type='BlipNLVR', tokenizer=tokenizer_cfg(vocab), vision_backbone=_vit(384),
        data_preprocessor=cfg['data_preprocessor'],
        multimodal_backbone=dict(type='BertModel', config=bert(layers=1, nlvr=True), add_pooling_layer=False)))
    preds, metrics = _train_step_and_predict(model, cfg, train, test)
    assert all(s.pred_score.shape == (2,) for s in preds) and 'top1' in metrics

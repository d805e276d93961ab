"""The shipped BLIP task configs' data (dataset bases, pipelines at 32 px, loader with a worker) feed the small
task models: a training loss, and predictions the configs' own evaluators score under their keys."""
from __future__ import annotations

import math
import os

import pytest
import torch

from fovea.config import Config
from fovea.data.loader import build_dataloader
from fovea.evaluation import Evaluator

pytest.importorskip('skimage', reason="the photos are scikit-image's samples: pip install scikit-image")
from multimodal_testutil import write_datasets  # noqa: E402
from tests.multimodal.blip_task_models import tiny_grounding, tiny_nlvr, tiny_vqa  # noqa: E402

# config -> (small model, the metric keys its validation reports)
CASES = {'blip-base_8xb32_okvqa': (tiny_vqa, {'VQA/acc'}),
         'blip-base_8xb32_ocrvqa': (tiny_vqa, {'VQA/acc'}),
         'blip-base_8xb16_refcoco': (tiny_grounding, {'visual-grounding/acc', 'visual-grounding/miou'}),
         'blip-base_8xb32_nlvr': (tiny_nlvr, {'accuracy/top1'})}


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    return write_datasets(tmp_path_factory.mktemp('blip_task_data')), tmp_path_factory.mktemp('vocab')


def _small(pipeline: list) -> list:
    """The config's pipeline at the small models' 32 px."""
    out = []
    for t in map(dict, pipeline):
        if t['type'] in ('Resize', 'RandomResizedCrop'):
            t = dict(type='Resize', scale=(32, 32))
        elif t['type'] == 'ApplyToList':
            t['transforms'] = _small(t['transforms'])
        elif t['type'] == 'RandomChoiceResize':
            t['scales'] = [(32, 32), (28, 28)]
        elif t['type'] == 'RandomTranslatePad':
            t['size'] = 32
        out.append(t)
    return out


def _batch(cfg, key, root):
    loader = dict(cfg[key], batch_size=2, num_workers=1, drop_last=False)
    loader.pop('persistent_workers', None)
    ds = dict(loader['dataset'], pipeline=_small(loader['dataset']['pipeline']))
    ds['data_root'] = str(root / os.path.basename(ds['data_root'].rstrip('/')))
    return next(iter(build_dataloader(dict(loader, dataset=ds), seed=0, key=key)))


@pytest.mark.parametrize('name', sorted(CASES))
def test_task_config_data_feeds_the_model(name, roots):
    root, vocab = roots
    make, keys = CASES[name]
    torch.manual_seed(0)
    model = make(vocab)
    cfg = Config.fromfile(name)
    losses = model(**model.data_preprocessor(_batch(cfg, 'train_dataloader', root), True), mode='loss')
    assert losses and all(math.isfinite(float(v.detach())) for k, v in losses.items() if 'loss' in k)
    model.eval()
    batch = _batch(cfg, 'val_dataloader', root)
    with torch.no_grad():
        out = model.val_step(batch)
    evaluator = Evaluator(cfg['val_evaluator'])
    evaluator.process(out, batch)
    metrics = evaluator.evaluate(len(out))
    assert set(metrics) == keys and all(0 <= float(v) <= 100 for v in metrics.values())

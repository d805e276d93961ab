"""A Runner trains BlipCaption on LAVIS-format COCO captions and validates with the COCOCaption metric
(BLEU/CIDEr on the generated captions)."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from fovea.config import Config
from tests.multimodal import blip_testutil

COLOURS = {'red': (220, 30, 30), 'blue': (30, 30, 220), 'white': (240, 240, 240), 'black': (10, 10, 10)}


@pytest.mark.slow
def test_runner_trains_and_validates_captions(tmp_path):
    from fovea.engine.runner import Runner
    (tmp_path / 'imgs').mkdir()
    train, val, gt = [], [], {'images': [], 'annotations': []}
    for i, (name, rgb) in enumerate(COLOURS.items()):
        Image.new('RGB', (40, 40), rgb).save(tmp_path / 'imgs' / f'x_{i}.jpg')
        train += [{'image': f'imgs/x_{i}.jpg', 'caption': f'a {name} picture', 'image_id': str(i)}] * 2
        val.append({'image': f'imgs/x_{i}.jpg', 'caption': [f'a {name} picture']})
        gt['images'].append({'id': i})
        gt['annotations'].append({'image_id': i, 'id': i, 'caption': f'a {name} picture'})
    for name, data in (('train.json', train), ('val.json', val), ('gt.json', gt)):
        (tmp_path / name).write_text(json.dumps(data))
    vocab = blip_testutil.write_vocab(tmp_path).parent
    load = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32))]
    cfg = Config(dict(
        model=blip_testutil.caption_cfg(vocab, hidden=128, heads=4,
                                        generation_cfg=dict(num_beams=2, max_length=8, min_length=2)),
        work_dir=str(tmp_path / 'run'),
        train_dataloader=dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                              dataset=dict(type='COCOCaption', data_root=str(tmp_path), ann_file='train.json',
                                           pipeline=load + [dict(type='PackInputs', algorithm_keys=['gt_caption'],
                                                                 meta_keys=['image_id'])])),
        val_dataloader=dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(type='COCOCaption', data_root=str(tmp_path), ann_file='val.json',
                                         pipeline=load + [dict(type='PackInputs', meta_keys=['image_id'])])),
        val_evaluator=dict(type='COCOCaption', ann_file=str(tmp_path / 'gt.json'), java_metrics=()),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=2),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2))))
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.last_metrics['val']
    assert {'Bleu_4', 'CIDEr'} <= set(metrics) and all(v == v for v in metrics.values())

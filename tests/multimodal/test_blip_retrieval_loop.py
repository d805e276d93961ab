"""The retrieval recipe's engine pieces: a Runner trains BlipRetrieval on a COCO caption file with the ITC
weight warmed up by WarmupParamHook, and RetrievalValLoop scores every image against every text."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.engine.retrieval import WarmupParamHook
from fovea.utils.errors import ConfigError
from tests.multimodal import blip_testutil

COLOURS = {'red': (220, 30, 30), 'blue': (30, 30, 220), 'white': (240, 240, 240), 'black': (10, 10, 10)}


def _coco(root, n_per_colour=2):
    images, anns = [], []
    for i, (name, rgb) in enumerate(COLOURS.items()):
        for j in range(n_per_colour):
            image_id = i * n_per_colour + j
            (root / 'imgs').mkdir(exist_ok=True)
            Image.new('RGB', (40, 40), rgb).save(root / 'imgs' / f'{image_id}.jpg')
            images.append({'id': image_id, 'coco_url': f'http://x/imgs/{image_id}.jpg'})
            anns += [{'image_id': image_id, 'id': 2 * image_id + k, 'caption': f'a {name} picture {k}'} for k in (0, 1)]
    (root / 'captions.json').write_text(json.dumps({'images': images, 'annotations': anns}))


def _retrieval_cfg(tmp_path, **train_cfg):
    vocab = blip_testutil.write_vocab(tmp_path).parent
    load = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32))]
    train = dict(type='COCORetrieval', data_root=str(tmp_path), ann_file='captions.json',
                 pipeline=load + [dict(type='PackInputs', algorithm_keys=['text', 'is_matched'],
                                       meta_keys=['image_id'])])
    test = dict(train, test_mode=True, pipeline=load + [
        dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id'])])
    cfg = Config(dict(
        model=blip_testutil.retrieval_cfg(vocab, queue_size=16, hidden=128, heads=4),
        work_dir=str(tmp_path / 'run'),
        train_dataloader=dict(batch_size=4, num_workers=0, drop_last=True, dataset=train,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        val_dataloader=dict(batch_size=3, num_workers=0, dataset=test, sampler=dict(type='DefaultSampler',
                                                                                    shuffle=False)),
        val_evaluator=dict(type='RetrievalRecall', topk=(1, 5)),
        val_cfg=dict(type='RetrievalValLoop'),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-4)),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=2),
        custom_hooks=[dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=1)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2))))
    cfg.train_cfg.update(train_cfg)
    return cfg


@pytest.mark.slow
def test_runner_trains_and_validates_retrieval(tmp_path):
    from fovea.engine.runner import Runner
    _coco(tmp_path)
    runner = Runner.from_cfg(_retrieval_cfg(tmp_path))
    runner.train()
    metrics = runner.last_metrics['val']
    assert {'i2t/retrieval/Recall@1', 't2i/retrieval/Recall@5'} <= set(metrics)
    assert runner.unwrapped_model.head.alpha == pytest.approx(0.4)          # warmed up to its value
    assert int(runner.unwrapped_model.head.queue_ptr) == 0                  # 8 steps x 4 features, 16 kept


def _ddp_worker(rank, world, port, root):
    import torch.distributed as dist

    from fovea.engine.runner import Runner
    from tests.dist_testutil import init_gloo
    init_gloo(rank, world, port)
    cfg = _retrieval_cfg(root, max_epochs=1)
    cfg.train_dataloader.batch_size = 2                    # 2 ranks x 2: the global batch of 4
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    flat = torch.cat([v.flatten().float() for v in model.state_dict().values()])
    every = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(every, flat)
    assert torch.equal(every[0], every[1]), 'ranks diverged: weights, momentum copies or queues differ'
    assert int(model.head.queue_ptr) == 0 and sorted(model.head.idx_queue[0].tolist()) == sorted(
        [i // 2 for i in range(16)])                       # every caption's image once, from both ranks
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_keep_one_model(tmp_path):
    import torch.multiprocessing as mp

    from tests.dist_testutil import free_port
    _coco(tmp_path)
    mp.spawn(_ddp_worker, args=(2, free_port(), tmp_path), nprocs=2, join=True)


class _Runner:
    def __init__(self, model, it, max_iters=10, max_epochs=2):
        self.unwrapped_model, self.iter, self.max_iters, self.max_epochs = model, it, max_iters, max_epochs


def test_warmup_param_hook_is_linear_and_names_bad_paths():
    head = torch.nn.Module()
    head.alpha = 0.4
    model = torch.nn.Module()
    model.head = head
    hook = WarmupParamHook('alpha', 'head', warmup_epochs=1)
    hook.before_train(_Runner(model, 0))
    seen = []
    for it in (0, 2, 5, 9):
        hook.before_train_iter(_Runner(model, it), it)
        seen.append(round(head.alpha, 6))
    assert seen == [0.0, 0.16, 0.4, 0.4]                                    # 5 iterations per epoch
    with pytest.raises(ConfigError, match='head.beta'):
        WarmupParamHook('beta', 'head', 1).before_train(_Runner(model, 0))

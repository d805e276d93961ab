"""Feature-cached gradient accumulation (CLIP ``cached_accumulation``, open_clip's ``--accum-freq``): the
gradients of K micro-steps equal those of one batch K times as large, unlike plain accumulation."""
from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp

from fovea.engine.optim_wrapper import OptimWrapper
from fovea.models.multimodal.clip.archs import clip_model_cfg
from fovea.structures import DataSample
from tests.dist_testutil import free_port, init_gloo
from tests.multimodal.clip_testutil import TINY_VIT

WORDS = ['red', 'green', 'blue', 'cat', 'dog', 'ship', 'car', 'tree']


class _Capture(OptimWrapper):
    """An optimizer wrapper that records the gradients of each step (lr 0: the weights stay put)."""

    def step(self) -> bool:
        self.grads = {n: p.grad.clone() for n, p in self.named if p.grad is not None}
        return super().step()


def _model(cached: bool, **vision):
    from fovea.apis.model import build_model_from_cfg
    cfg = clip_model_cfg(TINY_VIT, cached_accumulation=cached)
    cfg['vision_backbone'].update(vision)
    torch.manual_seed(0)
    return build_model_from_cfg(cfg).train()


def _batch(rows: range) -> dict:
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (len(WORDS), 3, 32, 32), dtype=torch.uint8, generator=g)
    return {'inputs': images[rows.start:rows.stop],
            'data_samples': [DataSample(text=f'a photo of a {WORDS[i]}') for i in rows]}


def _grads(model, micro_batches, counts: int, world: int = 1):
    ow = _Capture(torch.optim.SGD(model.parameters(), lr=0.0), accumulative_counts=counts)
    ow.named = list(model.named_parameters())
    forward = model
    if world > 1:
        from fovea.engine.runner import _DDP
        forward = _DDP(model)
    logs = [forward.train_step(b, ow) for b in micro_batches]
    return ow.grads, logs


def _assert_equal(a: dict, b: dict, atol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=1e-5, msg=k)


def test_cached_accumulation_gives_the_gradient_of_the_whole_batch():
    big, big_logs = _grads(_model(False), [_batch(range(0, 8))], counts=1)
    quarters = [_batch(range(i, i + 2)) for i in range(0, 8, 2)]
    cached, logs = _grads(_model(True), quarters, counts=4)
    _assert_equal(cached, big)  # towers, embeddings and logit_scale (counted once, not K times)
    assert logs[:3] == [{}, {}, {}]  # micro-steps 1..3 only cache; the 4th reports the whole batch's loss
    torch.testing.assert_close(logs[3]['loss'], big_logs[0]['loss'], atol=1e-6, rtol=0)
    naive, _ = _grads(_model(False), quarters, counts=4)
    assert (naive['visual_proj.proj'] - big['visual_proj.proj']).abs().max() > 1e-3  # each quarter on its own


def test_recompute_replays_the_random_state():
    """With stochastic depth, the live features of a recomputed micro-batch are those it gave without
    gradient (the random state is replayed), so the gradient is that of the loss over the cached batch."""
    quarters = [_batch(range(i, i + 4)) for i in (0, 4)]
    model = _model(True, drop_path_rate=0.5)
    torch.manual_seed(5)
    feats = []
    for b in quarters:
        data = model.data_preprocessor(b, True)
        feats.append(model.loss_features(**data))
    whole = {k: torch.cat([f[k] for f in feats]) for k in feats[0]}
    model.loss_module(whole['image'], whole['text'], model.logit_scale.exp()).backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    torch.manual_seed(5)
    cached, _ = _grads(model, quarters, counts=2)
    _assert_equal(cached, ref)


def _ddp_worker(rank, port, out):
    init_gloo(rank, 2, port)
    rows = [range(rank * 2, rank * 2 + 2), range(4 + rank * 2, 4 + rank * 2 + 2)]  # 2 micro-batches per rank
    grads, _ = _grads(_model(True), [_batch(r) for r in rows], counts=2, world=2)
    torch.save(grads, out.format(rank))
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_with_cached_accumulation_match_one_big_batch(tmp_path):
    """Under DDP (2 gloo processes, 2 micro-batches each) the all-reduced gradients equal one process on
    all 8 pairs: the loss contrasts every rank's every micro-batch, and the sync happens once."""
    out = str(tmp_path / 'rank{}.pt')
    mp.spawn(_ddp_worker, args=(free_port(), out), nprocs=2)
    # each rank's rows in rank order: rank 0 holds pairs 0,1,4,5 and rank 1 pairs 2,3,6,7
    order = [0, 1, 4, 5, 2, 3, 6, 7]
    whole = _batch(range(0, 8))
    whole = {'inputs': whole['inputs'][order], 'data_samples': [whole['data_samples'][i] for i in order]}
    big, _ = _grads(_model(False), [whole], counts=1)
    for r in range(2):
        _assert_equal(torch.load(out.format(r)), big, atol=1e-5)


def test_runner_logs_the_whole_batch_loss(tmp_path):
    """In a Runner, micro-steps that only cache report nothing, so the logged loss is the accumulated
    batch's (with lr 0 it equals the model's loss on all pairs of the step at the initial weights)."""
    import json

    from PIL import Image

    from fovea.config import Config
    from fovea.engine.runner import Runner
    (tmp_path / 'img').mkdir()
    for i, w in enumerate(WORDS):
        Image.new('RGB', (32, 32), (30 * i, 255 - 30 * i, 90)).save(tmp_path / 'img' / f'{i}.png')
    (tmp_path / 'train.csv').write_text('filepath,title\n' + ''.join(f'img/{i}.png,a photo of a {w}\n'
                                                                    for i, w in enumerate(WORDS)))
    cfg = Config.fromfile('clip_vit-tiny_image-text-pairs', [
        f'work_dir={tmp_path / "run"}', f'train_dataloader.dataset.data_root={tmp_path}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
        'train_dataloader.sampler.shuffle=False', 'model.vision_backbone.img_size=32',
        'model.vision_backbone.arch.num_layers=1', 'model.text_backbone.layers=1', 'model.cached_accumulation=True',
        'optim_wrapper.accumulative_counts=4', 'optim_wrapper.optimizer.lr=0.0', 'param_scheduler=[]',
        'default_hooks.logger.interval=4', 'env_cfg.precision=fp32'])
    cfg.train_dataloader.dataset.pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs',
                                                                                  algorithm_keys=['text'])]
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    record = json.loads(next((runner.work_dir).rglob('scalars.json')).read_text().splitlines()[0])
    batch = next(iter(runner.train_dataloader))
    whole = {'inputs': torch.cat([b['inputs'] for b in runner.train_dataloader]),
             'data_samples': [s for b in runner.train_dataloader for s in b['data_samples']]}
    assert len(whole['data_samples']) == 8 and len(batch['data_samples']) == 2
    with torch.no_grad():
        expected = model.loss(**model.data_preprocessor(whole, True))['loss'].item()
    assert record['loss'] == pytest.approx(expected, abs=1e-5)

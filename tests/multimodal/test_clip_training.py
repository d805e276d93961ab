"""CLIP training: image-text data (CSV/TSV/JSON lines, tar shards), a Runner run with zero-shot
validation, and 2-process ClipLoss with gathered gradients equal to one process on the global batch."""
from __future__ import annotations

import io
import json
import tarfile

import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from fovea.data.datasets import ImageTextDataset, TarShardDataset
from fovea.utils.errors import DataError
from tests.dist_testutil import free_port, init_gloo

COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 40), 'blue': (30, 40, 220)}


def _pairs(root, n=24):
    (root / 'img').mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = list(COLOURS)[i % 3]
        Image.new('RGB', (40, 40), COLOURS[name]).save(root / 'img' / f'{i}.jpg')
        rows.append((f'img/{i}.jpg', f'a photo of something {name}'))
    return rows


def test_annotation_formats_give_the_same_pairs(tmp_path):
    rows = _pairs(tmp_path, 6)
    (tmp_path / 'a.csv').write_text('filepath,title\n' + ''.join(f'{p},"{t}"\n' for p, t in rows))
    (tmp_path / 'a.tsv').write_text('filepath\ttitle\n' + ''.join(f'{p}\t{t}\n' for p, t in rows))
    (tmp_path / 'a.jsonl').write_text(''.join(json.dumps({'image': p, 'caption': t}) + '\n' for p, t in rows))
    csv_ds = ImageTextDataset('a.csv', data_root=str(tmp_path))
    tsv_ds = ImageTextDataset('a.tsv', data_root=str(tmp_path))
    jsonl = ImageTextDataset('a.jsonl', img_key='image', caption_key='caption', data_root=str(tmp_path))
    for ds in (csv_ds, tsv_ds, jsonl):
        assert [(d['img_path'], d['text']) for d in ds.data_list] == \
            [(str(tmp_path / p), t) for p, t in rows]
    with pytest.raises(DataError, match=r"no column 'caption'.*columns: \['filepath', 'title'\]"):
        ImageTextDataset('a.csv', caption_key='caption', data_root=str(tmp_path))


def test_tar_shards_carry_captions(tmp_path):
    shard = tmp_path / 'pairs-000.tar'
    with tarfile.open(shard, 'w') as tar:
        for i, (name, rgb) in enumerate(COLOURS.items()):
            buf = io.BytesIO()
            Image.new('RGB', (8, 8), rgb).save(buf, 'JPEG')
            for ext, data in (('jpg', buf.getvalue()), ('txt', f'a {name} square'.encode())):
                info = tarfile.TarInfo(f'{i:04d}.{ext}')
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    ds = TarShardDataset(str(shard), with_label=False, text_key='txt',
                         pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs', algorithm_keys=['text'])])
    texts = [s['data_samples'].text for s in ds]
    assert texts == ['a red square', 'a green square', 'a blue square']
    with pytest.raises(DataError, match="no 'caption' caption field"):
        list(TarShardDataset(str(shard), with_label=False, text_key='caption'))


@pytest.mark.slow
def test_runner_trains_clip_and_validates_zero_shot(tmp_path):
    from fovea.config import Config
    from fovea.engine.runner import Runner
    rows = _pairs(tmp_path)
    (tmp_path / 'train.csv').write_text('filepath,title\n' + ''.join(f'{p},{t}\n' for p, t in rows))
    val = tmp_path / 'val'
    for name, rgb in COLOURS.items():
        (val / name).mkdir(parents=True)
        for j in range(2):
            Image.new('RGB', (40, 40), rgb).save(val / name / f'{j}.jpg')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),
                dict(type='PackInputs', algorithm_keys=['text'])]
    cfg = Config.fromfile('clip_vit-tiny_image-text-pairs', [
        f'work_dir={tmp_path / "run"}', f'train_dataloader.dataset.data_root={tmp_path}',
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0', 'train_cfg.max_epochs=2',
        'model.vision_backbone.img_size=32', 'model.vision_backbone.arch.num_layers=1',
        'param_scheduler=[]', 'default_hooks.checkpoint.interval=2'])
    cfg.train_dataloader.dataset.pipeline = pipeline
    cfg.model.text_prototype = list(COLOURS)
    cfg.model.text_prompt = ['a photo of something {}']
    cfg.val_dataloader = dict(batch_size=6, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                              dataset=dict(type='CustomDataset', data_root=str(val), pipeline=pipeline))
    cfg.val_cfg = dict()
    cfg.val_evaluator = dict(type='Accuracy', topk=(1,))
    cfg.train_cfg.val_interval = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert 'accuracy/top1' in runner.last_metrics['val']
    assert runner.model.logit_scale.item() <= torch.log(torch.tensor(100.)).item() + 1e-6


def _features(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g)


def _grads(img, txt, local_loss):
    from fovea.models.losses import ClipLoss
    img, txt = img.clone().requires_grad_(), txt.clone().requires_grad_()
    loss = ClipLoss(local_loss=local_loss)(torch.nn.functional.normalize(img, dim=-1),
                                           torch.nn.functional.normalize(txt, dim=-1), torch.tensor(10.0))
    loss.backward()
    return loss.detach(), img.grad, txt.grad


def _worker(rank, port, local_loss, out):
    import torch.distributed as dist
    init_gloo(rank, 2, port)
    img, txt = _features()
    rows = slice(rank * 4, rank * 4 + 4)
    loss, gi, gt = _grads(img[rows], txt[rows], local_loss)
    dist.all_reduce(loss)
    for g in (gi, gt):
        g /= 2  # DDP averages parameter gradients over the ranks
    torch.save({'loss': loss / 2, 'img': gi, 'txt': gt}, out.format(rank))
    dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize('local_loss', [False, True])
def test_two_processes_match_one_process_on_the_global_batch(tmp_path, local_loss):
    out = str(tmp_path / 'rank{}.pt')
    mp.spawn(_worker, args=(free_port(), local_loss, out), nprocs=2)
    img, txt = _features()
    loss, gi, gt = _grads(img, txt, local_loss=False)
    parts = [torch.load(out.format(r)) for r in range(2)]
    torch.testing.assert_close(parts[0]['loss'], loss, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cat([p['img'] for p in parts]), gi, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.cat([p['txt'] for p in parts]), gt, atol=1e-6, rtol=0)


def test_clean_caption():
    from fovea.data.transforms import CleanCaption
    out = CleanCaption(keys='text')({'text': '  A Dog,  running!!  on the   BEACH. '})
    assert out['text'] == 'a dog running on the beach'
    many = CleanCaption()({'gt_caption': ['Two  Cats.', 'A boat?']})
    assert many['gt_caption'] == ['two cats', 'a boat']
    with pytest.raises(DataError, match="no 'gt_caption'.*keys="):
        CleanCaption()({'text': 'x'})


def test_flickr30k_karpathy_split(tmp_path):
    from fovea.data.datasets import Flickr30kRetrieval
    images = [{'filename': f'{i}.jpg', 'imgid': i, 'split': 'test' if i < 2 else 'train',
               'sentences': [{'raw': f'caption {i}.{j}', 'sentid': 10 * i + j} for j in range(2)]} for i in range(3)]
    (tmp_path / 'ann.json').write_text(json.dumps({'images': images}))
    train = Flickr30kRetrieval(str(tmp_path), 'img', 'ann.json', split='train')
    assert [(d['text'], d['image_id']) for d in train.data_list] == [('caption 2.0', 0), ('caption 2.1', 0)]
    test = Flickr30kRetrieval(str(tmp_path), 'img', 'ann.json', split='test', test_mode=True)
    assert [d['gt_text_id'] for d in test.data_list] == [[0, 1], [2, 3]] and test.text_size == 4
    assert test.data_list[1]['img_path'] == str(tmp_path / 'img' / '1.jpg')
    with pytest.raises(DataError, match="no images of split 'val'"):
        Flickr30kRetrieval(str(tmp_path), 'img', 'ann.json', split='val')

"""CIFAR-10 recipe ablation: what warmup, cosine decay, label smoothing, EMA and Mixup/CutMix each do.

Trains a narrow ResNet (3 stages of one basic block, widths 16/32/64: ~0.08 M parameters) with
fovea's Runner on a class-balanced subset of the CIFAR-10 JPEGs in ../shared/data, adding one
recipe switch at a time, and writes a Markdown table (accuracy per epoch, wall time) to stdout
and to ``--out`` (JSON). Every switch is a config key (param_scheduler, loss.label_smooth_val,
custom_hooks=[EMAHook], data_preprocessor.batch_augments), so this is also an end-to-end test
of those switches.

    mkdir -p /tmp/data/cifar10 && tar -xf ../shared/data/cifar10-jpg.tar -C /tmp/data/cifar10
    python benchmarks/cifar_recipe.py --root /tmp/data/cifar10     # the run in benchmarks/recipes.md

The narrow network and the subset keep the whole ablation near 15 minutes on 2 CPU cores; the
absolute accuracies (~45-50%) are therefore far below a full ResNet-18 recipe (~95%), and only the
differences between rows matter. The last row repeats the full recipe with another seed to show
the run-to-run noise.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from fovea.config import Config
from fovea.engine.runner import Runner
from fovea.registry import BATCH_AUGMENTS, DATASETS, MODELS
from fovea.structures import DataSample

CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
MEAN, STD = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]  # CIFAR-10 train statistics, 0-255 scale


def load_subset(root: Path, split: str, per_class: int, cache_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode the first ``per_class`` JPEGs of every class once and cache them as one uint8 tensor."""
    cache = cache_dir / f'cifar10_{split}_{per_class}.pt'
    if cache.exists():
        d = torch.load(cache)
        return d['x'], d['y']
    from torchvision.io import ImageReadMode, decode_jpeg, read_file
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        files = sorted((root / split / name).glob('*.jpg'))[:per_class]
        xs += [decode_jpeg(read_file(str(f)), mode=ImageReadMode.RGB) for f in files]
        ys += [label] * len(files)
    x, y = torch.stack(xs), torch.tensor(ys)
    cache_dir.mkdir(parents=True, exist_ok=True)
    torch.save({'x': x, 'y': y}, cache)
    return x, y


@DATASETS.register_module(force=True)
class RecipeCifarTensors(torch.utils.data.Dataset):
    """Pre-decoded CIFAR images; training samples get the standard pad-4 random crop and flip."""
    METAINFO = {'classes': CLASSES}

    def __init__(self, path: str, train: bool):
        d = torch.load(path)
        self.x, self.y, self.train = d['x'], d['y'], train
        self.metainfo = dict(self.METAINFO)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        img = self.x[i]
        if self.train:
            padded = nn.functional.pad(img, (4, 4, 4, 4))
            t, l = torch.randint(0, 9, (2,)).tolist()
            img = padded[:, t:t + 32, l:l + 32]
            if torch.rand(()) < 0.5:
                img = img.flip(-1)
        return {'inputs': img.contiguous(), 'data_samples': DataSample().set_gt_label(int(self.y[i]))}


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + idt)


@MODELS.register_module(force=True)
class RecipeNarrowResNet(nn.Module):
    """A ResNet-8 for 32x32 inputs (He et al. 2016, CIFAR variant): 3 stages x 1 basic block."""
    prefers_channels_last = False

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            layers.append(_Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return (self.layers(self.stem(x)),)


@BATCH_AUGMENTS.register_module(force=True)
class RecipeMixupOrCutMix:
    """Per batch, Mixup (alpha 0.2) or CutMix (alpha 1.0) with equal probability (used only when
    fovea's own Mixup/CutMix batch augments are not registered yet)."""

    def __init__(self, num_classes: int | None = None, mixup_alpha: float = 0.2, cutmix_alpha: float = 1.0):
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha

    def __call__(self, x: torch.Tensor, score: torch.Tensor):
        perm = torch.randperm(x.size(0), device=x.device)
        if torch.rand(()) < 0.5:
            lam = float(torch.distributions.Beta(self.mixup_alpha, self.mixup_alpha).sample())
            return lam * x + (1 - lam) * x[perm], lam * score + (1 - lam) * score[perm]
        lam = float(torch.distributions.Beta(self.cutmix_alpha, self.cutmix_alpha).sample())
        h, w = x.shape[-2:]
        ch, cw = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
        cy, cx = torch.randint(0, h, ()).item(), torch.randint(0, w, ()).item()
        y0, y1, x0, x1 = max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
        return x, lam * score + (1 - lam) * score[perm]


def mixing_cfg() -> dict:
    if 'Mixup' in BATCH_AUGMENTS and 'CutMix' in BATCH_AUGMENTS:
        return dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)])
    return dict(type='RecipeMixupOrCutMix')


def make_cfg(train_path: str, test_path: str, epochs: int, seed: int, *, cosine: bool, warmup: bool,
             smooth: float, ema: bool, mix: bool, lr: float, batch: int, n_train: int) -> Config:
    iters = n_train // batch
    sched = []
    if warmup:
        sched.append(dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=iters))  # 1 epoch
    if cosine:
        sched.append(dict(type='CosineAnnealingLR', by_epoch=True, begin=1 if warmup else 0, end=epochs,
                          eta_min=0., convert_to_iter_based=True))
    pre = dict(type='ClsDataPreprocessor', mean=MEAN, std=STD, to_rgb=True, num_classes=10)
    if mix:
        pre['batch_augments'] = mixing_cfg()
    cfg = dict(
        model=dict(type='ImageClassifier', backbone=dict(type='RecipeNarrowResNet'),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                             loss=dict(type='CrossEntropyLoss', label_smooth_val=smooth)),
                   data_preprocessor=pre),
        train_dataloader=dict(batch_size=batch, num_workers=0, drop_last=True,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              dataset=dict(type='RecipeCifarTensors', path=train_path, train=True)),
        val_dataloader=dict(batch_size=500, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=dict(type='RecipeCifarTensors', path=test_path, train=False)),
        val_evaluator=dict(type='Accuracy', topk=(1,)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)),
        param_scheduler=sched,
        train_cfg=dict(by_epoch=True, max_epochs=epochs, val_interval=1),
        val_cfg=dict(),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1000, tensorboard=False),
                           checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False)),
        custom_hooks=[dict(type='EMAHook', ema_type='MomentumAnnealingEMA', momentum=0.01, gamma=20,
                           evaluate_on_origin=True)] if ema else [],
        env_cfg=dict(device='cpu', precision='fp32', channels_last=False),
        randomness=dict(seed=seed),
        log_level='WARNING',
    )
    return Config(cfg)


ROWS = [
    # name, switches
    ('SGD, constant lr', dict(cosine=False, warmup=False, smooth=0., ema=False, mix=False)),
    ('+ cosine decay', dict(cosine=True, warmup=False, smooth=0., ema=False, mix=False)),
    ('+ 1-epoch linear warmup', dict(cosine=True, warmup=True, smooth=0., ema=False, mix=False)),
    ('+ label smoothing 0.1 (+ EMA, evaluated on both)', dict(cosine=True, warmup=True, smooth=0.1, ema=True,
                                                             mix=False)),
    ('+ Mixup/CutMix', dict(cosine=True, warmup=True, smooth=0.1, ema=True, mix=True)),
]


def run_one(cfg: Config, work: str) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg['work_dir'] = work
    t0 = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    wall = time.perf_counter() - t0
    recs = [json.loads(line) for line in open(Path(runner.run_dir) / 'scalars.json')]
    val = [r for r in recs if 'accuracy/top1' in r]
    return {'top1': [r['accuracy/top1'] for r in val],
            'top1_origin': [r['accuracy/top1_origin'] for r in val if 'accuracy/top1_origin' in r],
            'wall_s': wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default='/tmp/data/cifar10')
    ap.add_argument('--per-class', type=int, default=300, help='training images per class')
    ap.add_argument('--test-per-class', type=int, default=200)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=0.2)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--rows', default='', help='comma-separated row indices to run (default: all + noise row)')
    ap.add_argument('--out', default='/tmp/cifar_recipe.json')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = Path('/tmp/data/cache')
    load_subset(Path(args.root), 'train', args.per_class, cache)
    load_subset(Path(args.root), 'test', args.test_per_class, cache)
    train_path = str(cache / f'cifar10_train_{args.per_class}.pt')
    test_path = str(cache / f'cifar10_test_{args.test_per_class}.pt')
    n_train = 10 * args.per_class
    rows = [(n, sw, 0) for n, sw in ROWS] + [('full recipe, seed 1 (noise check)', ROWS[-1][1], 1)]
    if args.rows:
        rows = [rows[int(i)] for i in args.rows.split(',')]
    results = json.load(open(args.out)) if os.path.exists(args.out) else {}
    with tempfile.TemporaryDirectory() as work:
        for name, sw, seed in rows:
            cfg = make_cfg(train_path, test_path, args.epochs, seed, lr=args.lr, batch=args.batch,
                           n_train=n_train, **sw)
            res = run_one(cfg, work)
            results[name] = {**res, 'switches': sw, 'seed': seed, 'epochs': args.epochs, 'n_train': n_train}
            json.dump(results, open(args.out, 'w'), indent=1)
            print(f"{name}: top1 per epoch {[round(a, 1) for a in res['top1']]}"
                  f"{' origin ' + str([round(a, 1) for a in res['top1_origin']]) if res['top1_origin'] else ''}"
                  f" wall {res['wall_s']:.0f}s", flush=True)


if __name__ == '__main__':
    main()

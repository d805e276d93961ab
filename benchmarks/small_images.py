"""Images/second over whole epochs with validation on small images: fovea vs a plain PyTorch loop vs MMPretrain.

Tasks (both on real photographs, the CIFAR-10 JPEGs of ../shared/data):
  lenet5          LeNet-5 on MNIST-format 28 px images: the CIFAR-10 JPEGs greyscaled, resized to
                  28x28 and written as MNIST IDX files (train: the training JPEGs, t10k: the test
                  JPEGs); MMPretrain's lenet5_mnist recipe (Resize 32, batch 128, SGD 0.01).
  resnet18_cifar  CIFAR ResNet-18 on the CIFAR-10 JPEGs (RandomCrop 32 + padding 4, flip; SGD 0.1).

Sides, each in a fresh process, interleaved round by round (fovea, plain, mmpretrain, fovea, ...) so
that load changes on a shared machine hit all of them; the best round of each counts:
  fovea       fovea's Runner with its defaults (precision, channels_last, threads: 'auto').
  plain       a plain PyTorch loop: torchvision's MNIST / ImageFolder + transforms.v2 + DataLoader,
              the same model (built by fovea), batch size and workers, fp32, torch's default threads.
  mmpretrain  MMPretrain 1.2.0's Runner in its own venv (--mmpretrain-python), the same config.
All sides train ``--epochs`` epochs and validate after each; images/s = (train + val images) / wall
time from building the loaders to the end of the last validation.

    python benchmarks/small_images.py --mmpretrain-python /work/refvenv/bin/python
    python benchmarks/small_images.py --quick          # subsampled: a check that everything runs

Goal (issue 11): fovea >= 1.0x the plain loop and >= 1.5x MMPretrain.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TASKS = ('lenet5', 'resnet18_cifar')
CIFAR_MEAN, CIFAR_STD = [125.307, 122.961, 113.8575], [51.5865, 50.847, 51.255]
MNIST_MEAN, MNIST_STD = [33.46], [78.87]


# ---------------------------------------------------------------------------------------- data
def cifar_files(cifar: str, split: str) -> list[tuple[str, int]]:
    """(path, label) of the CIFAR-10 JPEGs of ``split`` ('train' or 'test'), classes sorted by name."""
    root = os.path.join(cifar, split)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    return [(os.path.join(root, c, f), i) for i, c in enumerate(classes) for f in sorted(os.listdir(os.path.join(root, c)))]


def strided(n: int, limit: int | None) -> list[int] | None:
    """``limit`` indices spread over ``n`` samples (all classes stay in), or None for all."""
    if not limit or limit >= n:
        return None
    return list(range(0, n, n // limit))[:limit]


def write_mnist_from_cifar(cifar: str, out: str, limits: dict) -> str:
    """MNIST-format IDX files under ``out/MNIST/raw`` (where torchvision's MNIST looks) from the CIFAR JPEGs."""
    import numpy as np
    from PIL import Image

    from fovea.data.datasets.mnist import write_mnist
    raw = os.path.join(out, 'MNIST', 'raw')
    done = os.path.join(raw, '.done')
    if os.path.exists(done):
        return raw
    for split, source in (('train', 'train'), ('test', 'test')):
        files = cifar_files(cifar, source)
        keep = strided(len(files), limits[split])
        files = [files[i] for i in keep] if keep else files
        images = np.stack([np.asarray(Image.open(p).convert('L').resize((28, 28), Image.BILINEAR)) for p, _ in files])
        write_mnist(raw, split, images, np.array([label for _, label in files]))
    open(done, 'w').close()
    return raw


# ---------------------------------------------------------------------------------------- config
def make_cfg(task: str, args, work_dir: str) -> dict:
    """One MMPretrain-style config that fovea and MMPretrain both run."""
    loader = dict(batch_size=args.batch_size, num_workers=args.workers, persistent_workers=args.workers > 0)
    if task == 'lenet5':
        pipeline = [dict(type='Resize', scale=32), dict(type='PackInputs')]
        data = dict(type='MNIST', data_prefix=args.mnist, pipeline=pipeline)
        train_ds, val_ds = dict(data, test_mode=False), dict(data, test_mode=True)
        model = dict(type='ImageClassifier', backbone=dict(type='LeNet5', num_classes=10), neck=None,
                     head=dict(type='ClsHead', loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
        pre = dict(mean=MNIST_MEAN, std=MNIST_STD, num_classes=10)
        optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
    else:
        n_train, n_val = (len(cifar_files(args.cifar, s)) for s in ('train', 'test'))
        train_ds = dict(type='CustomDataset', data_prefix=os.path.join(args.cifar, 'train'),
                        indices=strided(n_train, args.train_limit), pipeline=[
                            dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=32, padding=4),
                            dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackInputs')])
        val_ds = dict(type='CustomDataset', data_prefix=os.path.join(args.cifar, 'test'),
                      indices=strided(n_val, args.val_limit),
                      pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
        model = dict(type='ImageClassifier', backbone=dict(type='ResNet_CIFAR', depth=18, num_stages=4,
                                                           out_indices=(3,), style='pytorch'),
                     neck=dict(type='GlobalAveragePooling'),
                     head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
                               loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
        pre = dict(mean=CIFAR_MEAN, std=CIFAR_STD, num_classes=10, to_rgb=True)  # JPEGs decode to BGR in MMPretrain
        optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0005)
    return dict(
        model=model, data_preprocessor=pre,
        train_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=True), dataset=train_ds),
        val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=False), dataset=val_ds),
        val_evaluator=dict(type='Accuracy', topk=(1,)), val_cfg=dict(),
        optim_wrapper=dict(optimizer=optimizer),
        train_cfg=dict(by_epoch=True, max_epochs=args.epochs, val_interval=1),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=100),
                           checkpoint=dict(type='CheckpointHook', interval=args.epochs)),
        randomness=dict(seed=0), work_dir=work_dir)


def _counts(runner_loader_pairs) -> int:
    return sum(len(loader.dataset) for loader in runner_loader_pairs)


# ---------------------------------------------------------------------------------------- sides
def run_fovea(task: str, args, work_dir: str) -> dict:
    from fovea.config import Config
    from fovea.engine.runner import Runner
    runner = Runner.from_cfg(Config(make_cfg(task, args, work_dir)))
    t0 = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - t0
    n = args.epochs * _counts([runner.train_dataloader, runner.val_loop.dataloader])
    return dict(images_per_s=n / wall, wall_s=wall, images=n, top1=runner.last_metrics.get('val', {}).get(
        'accuracy/top1'))


def run_mmpretrain(task: str, args, work_dir: str) -> dict:
    import mmpretrain  # noqa: F401  (registers its modules)
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = make_cfg(task, args, work_dir)
    cfg['default_hooks'] = dict(timer=dict(type='IterTimerHook'), param_scheduler=dict(type='ParamSchedulerHook'),
                                sampler_seed=dict(type='DistSamplerSeedHook'), **cfg['default_hooks'])
    cfg.update(default_scope='mmpretrain', env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'),
                                                       mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0)),
               log_level='WARNING', launcher='none')
    runner = Runner.from_cfg(Config(cfg))
    t0 = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - t0
    n = args.epochs * _counts([runner.train_dataloader, runner.val_dataloader])
    try:
        top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    except KeyError:
        top1 = None
    return dict(images_per_s=n / wall, wall_s=wall, images=n, top1=top1)


def run_plain(task: str, args, work_dir: str) -> dict:
    """The loop a PyTorch user writes: torchvision dataset + DataLoader, float normalised in the workers."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets
    from torchvision.transforms import v2

    from fovea.registry import MODELS
    cfg = make_cfg(task, args, work_dir)
    torch.manual_seed(0)
    model = MODELS.build(cfg['model'])
    t0 = time.perf_counter()
    if task == 'lenet5':
        def tf(train):
            return v2.Compose([v2.PILToTensor(), v2.Resize(32, antialias=True), v2.ToDtype(torch.float32),
                               v2.Normalize(MNIST_MEAN, MNIST_STD)])
        root = os.path.dirname(os.path.dirname(args.mnist))  # <root>/MNIST/raw
        train_set = datasets.MNIST(root, train=True, transform=tf(True), download=False)
        val_set = datasets.MNIST(root, train=False, transform=tf(False), download=False)
    else:
        def tf(train):
            aug = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()] if train else []
            return v2.Compose([v2.PILToTensor(), *aug, v2.ToDtype(torch.float32), v2.Normalize(CIFAR_MEAN, CIFAR_STD)])
        train_set = datasets.ImageFolder(os.path.join(args.cifar, 'train'), transform=tf(True))
        val_set = datasets.ImageFolder(os.path.join(args.cifar, 'test'), transform=tf(False))
        keep = strided(len(train_set), args.train_limit), strided(len(val_set), args.val_limit)
        train_set = Subset(train_set, keep[0]) if keep[0] else train_set
        val_set = Subset(val_set, keep[1]) if keep[1] else val_set
    kw = dict(batch_size=args.batch_size, num_workers=args.workers, persistent_workers=args.workers > 0)
    train_loader = DataLoader(train_set, shuffle=True, **kw)
    val_loader = DataLoader(val_set, shuffle=False, **kw)
    o = cfg['optim_wrapper']['optimizer']
    opt = torch.optim.SGD(model.parameters(), lr=o['lr'], momentum=o['momentum'], weight_decay=o['weight_decay'])
    correct = 0
    for _ in range(args.epochs):
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += int((model(x).argmax(1) == y).sum())
    wall = time.perf_counter() - t0
    n = args.epochs * (len(train_set) + len(val_set))
    return dict(images_per_s=n / wall, wall_s=wall, images=n, top1=100 * correct / len(val_set))


SIDES = {'fovea': run_fovea, 'plain': run_plain, 'mmpretrain': run_mmpretrain}


# ---------------------------------------------------------------------------------------- driver
def run_side(side: str, task: str, args) -> dict:
    """Run one side in a fresh process (MMPretrain's in its own venv) and read its result line."""
    python = args.mmpretrain_python if side == 'mmpretrain' else sys.executable
    cmd = [python, os.path.abspath(__file__), '--side', side, '--task', task, '--mnist', args.mnist,
           '--cifar', args.cifar, '--workers', str(args.workers), '--batch-size', str(args.batch_size),
           '--epochs', str(args.epochs), '--train-limit', str(args.train_limit or 0),
           '--val-limit', str(args.val_limit or 0)]
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    if side == 'mmpretrain':
        env.pop('PYTHONPATH', None)  # its venv has its own packages; fovea is not needed there
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f'{side} / {task} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--cifar', default='/tmp/data/cifar10', help='CIFAR-10 JPEGs: <cifar>/{train,test}/<class>/*.jpg')
    p.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'fovea-small-images'),
                   help='where the MNIST-format files and the runs go')
    p.add_argument('--tasks', default=','.join(TASKS), help=f'comma-separated subset of {TASKS}')
    p.add_argument('--sides', default='fovea,plain,mmpretrain')
    p.add_argument('--mmpretrain-python', default=None, help='python of a venv with MMPretrain 1.2.0 (side skipped without it)')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--quick', action='store_true', help='subsample: 2,048 training and 1,024 validation images')
    p.add_argument('--train-limit', type=int, default=0, help='use this many training images (0: all)')
    p.add_argument('--val-limit', type=int, default=0, help='use this many validation images (0: all)')
    p.add_argument('--side', choices=sorted(SIDES), help=argparse.SUPPRESS)
    p.add_argument('--task', choices=TASKS, help=argparse.SUPPRESS)
    p.add_argument('--mnist', default='', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.train_limit, args.val_limit = args.train_limit or 2048, args.val_limit or 1024
    args.train_limit, args.val_limit = args.train_limit or None, args.val_limit or None

    if args.side:  # one measurement, in this fresh process
        with tempfile.TemporaryDirectory(dir=args.work if os.path.isdir(args.work) else None) as work_dir:
            print('RESULT ' + json.dumps(SIDES[args.side](args.task, args, work_dir)), flush=True)
        return

    sides = [s for s in args.sides.split(',') if s != 'mmpretrain' or args.mmpretrain_python]
    tasks = args.tasks.split(',')
    os.makedirs(args.work, exist_ok=True)
    if 'lenet5' in tasks:
        args.mnist = write_mnist_from_cifar(args.cifar, os.path.join(
            args.work, f'mnist_from_cifar_{args.train_limit or "all"}_{args.val_limit or "all"}'),
            {'train': args.train_limit, 'test': args.val_limit})
    print(f'workers {args.workers}  batch {args.batch_size}  epochs {args.epochs}  rounds {args.rounds}  '
          f'cores {len(os.sched_getaffinity(0))}  load avg {os.getloadavg()[0]:.1f}  sides {sides}')
    for task in tasks:
        best: dict[str, dict] = {}
        for r in range(args.rounds):
            for side in sides:
                res = run_side(side, task, args)
                top1 = f'{res["top1"]:.1f}%' if res.get('top1') is not None else '-'
                print(f'  {task} round {r}: {side:<10} {res["images_per_s"]:9.1f} img/s  ({res["images"]} images '
                      f'in {res["wall_s"]:.1f} s, top-1 {top1})', flush=True)
                if res['images_per_s'] > best.get(side, {}).get('images_per_s', 0):
                    best[side] = res
        line = ', '.join(f'{s} {best[s]["images_per_s"]:.1f} img/s' for s in sides)
        ratios = ', '.join(f'fovea/{s} {best["fovea"]["images_per_s"] / best[s]["images_per_s"]:.2f}'
                           for s in sides if s != 'fovea' and 'fovea' in best)
        print(f'{task}: {line}' + (f'\n  ratio {ratios} (goal: >= 1.0 plain, >= 1.5 mmpretrain)' if ratios else ''))


if __name__ == '__main__':
    main()

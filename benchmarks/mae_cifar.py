"""MAE on the real CIFAR-10 JPEGs: does the reconstruction loss fall, and do the features get better?

A ViT-Tiny (192 wide, ``--depth`` layers, 3 heads, 4x4 patches: 64 per 32 px image, 16 visible)
is pretrained with the shipped ``mae_vit-tiny-p4_cifar10`` config for ``--minutes`` (a short
calibration run measures the step time; the iteration count is set so that the run fits, with a
5% linear warmup and cosine decay). The script prints the loss curve (first vs last 5% of the
iterations, and the drop), then a linear probe: the frozen encoder's pooled features (all patches,
unmasked) of the training images, standardised, train a multinomial logistic regression (L-BFGS),
whose top-1 is measured on the 10,000 test images; the same ViT at random initialisation is probed
the same way in the same script. The weighted kNN top-1 (k=200, T=0.1) of the same features is
printed beside it.

    python benchmarks/mae_cifar.py --data /tmp/data/cifar10 --minutes 15
    python benchmarks/mae_cifar.py --data /tmp/data/cifar10 --minutes 0.2 --train-subset 512 \\
        --probe-train 512 --probe-test 256 --depth 2        # smoke run

Run it on a quiet machine (nothing else loading the cores) and say so with the numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time

import torch

CONFIG = 'mae_vit-tiny-p4_cifar10'


def _spaced(total: int, n: int) -> list[int]:
    """``n`` indices evenly spaced over the class-sorted folders, so that every class is there."""
    return list(range(0, total, max(1, total // n)))[:n]


def _config(args, work_dir: str, iters: int | None = None, schedule: bool = True):
    """The shipped config for this run; with ``iters``, iteration-based with warmup + cosine."""
    from fovea.config import Config
    opts = [f'work_dir={work_dir}', f'train_dataloader.batch_size={args.batch_size}',
            f'train_dataloader.num_workers={args.workers}', 'custom_hooks=[]',
            'default_hooks.checkpoint.interval=100000', 'randomness.seed=0',
            f'optim_wrapper.optimizer.lr={args.lr * args.batch_size / 256:g}']
    for key in ('train_dataloader', 'knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.dataset.data_root={args.data}')
    for key in ('knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.num_workers={args.workers}')
    if args.train_subset:
        opts.append(f'train_dataloader.dataset.indices={_spaced(50000, args.train_subset)}')
    if args.probe_train:
        opts.append(f'knn_cfg.train_dataloader.dataset.indices={_spaced(50000, args.probe_train)}')
    if args.probe_test:
        opts.append(f'knn_cfg.val_dataloader.dataset.indices={_spaced(10000, args.probe_test)}')
    cfg = Config.fromfile(CONFIG, opts)
    cfg['model']['backbone']['arch'] = dict(embed_dims=192, num_layers=args.depth, num_heads=3,
                                            feedforward_channels=768)
    if iters is not None:
        warmup = max(1, iters // 20)
        cfg['train_cfg'] = dict(type='IterBasedTrainLoop', max_iters=iters)
        cfg['param_scheduler'] = [
            dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup, end=iters, eta_min=0.0)] if schedule else []
    return cfg


def _loss_recorder():
    """A hook keeping every iteration's loss (as tensors: no device sync per step)."""
    from fovea.engine.hooks import Hook

    class LossRecorder(Hook):
        priority = 'LOW'

        def __init__(self):
            self.losses: list[torch.Tensor] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.losses.append(outputs['loss'].detach())

    return LossRecorder()


def linear_probe(train_x, train_y, test_x, test_y, num_classes: int = 10, steps: int = 100,
                 weight_decay: float = 1e-4) -> float:
    """Top-1 (%) on the test features of a softmax regression fit on the standardised training features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    torch.manual_seed(0)
    clf = torch.nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1, max_iter=steps, history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(clf(xtr), train_y) + weight_decay * clf.weight.square().sum()
        loss.backward()
        return loss
    opt.step(closure)
    with torch.no_grad():
        return (clf(xte).argmax(1) == test_y).float().mean().item() * 100


def evaluate(cfg, model) -> dict:
    """Linear probe and weighted kNN top-1 of the encoder's pooled features."""
    from fovea.evaluation.knn import extract_features, knn_accuracy, knn_loaders
    memory, queries = knn_loaders(cfg)
    t0 = time.perf_counter()
    train_x, train_y = extract_features(model, memory)
    test_x, test_y = extract_features(model, queries)
    extract_s = time.perf_counter() - t0
    probe = linear_probe(train_x, train_y, test_x, test_y)
    knn = knn_accuracy(train_x, train_y, test_x, test_y, 10, 200, 0.1)['knn/top1']
    return dict(probe=probe, knn=knn, probe_train=len(train_y), probe_test=len(test_y), extract_s=extract_s)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True, help='CIFAR-10 class folders (train/, test/)')
    p.add_argument('--minutes', type=float, default=15.0, help='training budget')
    p.add_argument('--depth', type=int, default=6, help='encoder layers (ViT-Tiny has 12)')
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=1.5e-3, help='AdamW learning rate at batch 256 (scaled linearly)')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--train-subset', type=int, default=None, help='pretrain on N training images (default all)')
    p.add_argument('--probe-train', type=int, default=None, help='fit the probe on N training images (default all)')
    p.add_argument('--probe-test', type=int, default=None, help='probe on N test images (default all; smoke runs)')
    p.add_argument('--calibration-iters', type=int, default=8)
    args = p.parse_args()

    from fovea.engine.runner import Runner
    from fovea.registry import MODELS, build
    work = tempfile.mkdtemp(prefix='mae-cifar-')
    cfg = _config(args, work)
    torch.manual_seed(0)
    random_model = build(cfg.model_cfg(), MODELS, key='model')
    random_model.init_weights()
    random_eval = evaluate(cfg, random_model)
    print('random init:', json.dumps(random_eval), flush=True)

    warm, timed = 3, args.calibration_iters
    t0 = time.perf_counter()
    Runner.from_cfg(_config(args, work, iters=warm, schedule=False)).train()
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    Runner.from_cfg(_config(args, work, iters=warm + timed, schedule=False)).train()
    per_iter = max(1e-3, (time.perf_counter() - t0 - startup) / timed)
    iters = max(20, math.floor((args.minutes * 60 - startup) / per_iter))

    cfg = _config(args, work, iters=iters)
    runner = Runner.from_cfg(cfg)
    recorder = _loss_recorder()
    runner.register_hook(recorder)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    losses = torch.stack(recorder.losses).float().tolist()
    k = max(1, len(losses) // 20)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    buckets = 20
    size = max(1, len(losses) // buckets)
    curve = [sum(losses[i:i + size]) / len(losses[i:i + size]) for i in range(0, len(losses), size)][:buckets]
    trained_eval = evaluate(cfg, runner.unwrapped_model)
    n_images = args.train_subset or 50000
    row = dict(iters=iters, epochs=iters * args.batch_size / n_images, train_s=train_s, depth=args.depth,
               batch_size=args.batch_size, loss_first=first, loss_last=last, loss_drop_pct=100 * (1 - last / first),
               probe_random=random_eval['probe'], probe_trained=trained_eval['probe'],
               knn_random=random_eval['knn'], knn_trained=trained_eval['knn'], work_dir=work)
    print('RESULT', json.dumps(row), flush=True)
    print(f'\nMAE, ViT-Tiny (192 wide, {args.depth} layers, patch 4) on {n_images} CIFAR-10 training images, '
          f'batch {args.batch_size}, {iters} iterations ({row["epochs"]:.1f} epochs) in {train_s / 60:.1f} min, '
          f'{torch.get_num_threads()} thread(s)')
    print('loss curve (mean per 1/20 of the run): ' + ' '.join(f'{v:.3f}' for v in curve))
    print(f'loss: first 5% {first:.4f} -> last 5% {last:.4f} ({row["loss_drop_pct"]:.1f}% lower)')
    print(f'\nfrozen features, probe fit on {trained_eval["probe_train"]} training images, top-1 on '
          f'{trained_eval["probe_test"]} test images')
    print('| encoder | linear probe | kNN (k=200) |')
    print('|---|---|---|')
    print(f'| random init | {random_eval["probe"]:.2f} | {random_eval["knn"]:.2f} |')
    print(f'| MAE, {train_s / 60:.1f} min | {trained_eval["probe"]:.2f} | {trained_eval["knn"]:.2f} |')
    print(f'| gain | {trained_eval["probe"] - random_eval["probe"]:+.2f} | '
          f'{trained_eval["knn"] - random_eval["knn"]:+.2f} |')


if __name__ == '__main__':
    main()

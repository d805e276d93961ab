"""Self-supervised pretraining on the real CIFAR-10 JPEGs: does it work, for the same wall-clock budget?

For each method (SimCLR, MoCo v2, BYOL, Barlow Twins and the pretext tasks RotationPred, RelativeLoc,
Jigsaw and Colorization, each with the same CIFAR ResNet-18 and the shipped `<method>_resnet18_cifar10` config), a short calibration run measures the step time, the
iteration count is set (iteration-based warmup + cosine) so the training fits ``--minutes``, the model trains, and the weighted kNN top-1
(k=200, T=0.1; memory: the training images, queries: the test images) of its backbone is compared
with the same network at random initialisation, measured in the same script.

    python benchmarks/selfsup_cifar.py --data /tmp/data/cifar10 --minutes 15
    python benchmarks/selfsup_cifar.py --data /tmp/data/cifar10 --minutes 2 --train-subset 5000 --methods simclr

Run it on a quiet machine (nothing else loading the cores) and say so with the numbers.
"""
from __future__ import annotations

import argparse
import math
import tempfile
import time

import torch

CONFIGS = {'simclr': 'simclr_resnet18_cifar10', 'mocov2': 'mocov2_resnet18_cifar10',
           'byol': 'byol_resnet18_cifar10', 'barlowtwins': 'barlowtwins_resnet18_cifar10',
           'rotation_pred': 'rotation_pred_resnet18_cifar10', 'relative_loc': 'relative_loc_resnet18_cifar10',
           'jigsaw': 'jigsaw_resnet18_cifar10', 'colorization': 'colorization_resnet18_cifar10'}


def _options(data: str, work_dir: str, batch_size: int, workers: int, subset: int | None,
             memory_subset: int | None = None, query_subset: int | None = None) -> list[str]:
    opts = [f'work_dir={work_dir}', f'train_dataloader.batch_size={batch_size}',
            f'train_dataloader.num_workers={workers}', 'custom_hooks=[]', 'default_hooks.checkpoint.interval=100000',
            'randomness.seed=0', f'optim_wrapper.optimizer.lr={0.06 * batch_size / 256:g}']
    for key in ('train_dataloader', 'knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.dataset.data_root={data}')
    for key in ('knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.num_workers={workers}')

    def spaced(total: int, n: int) -> list[int]:
        # evenly spaced over the class-sorted folders, so every class is in the subset
        return list(range(0, total, max(1, total // n)))[:n]
    if subset:
        opts.append(f'train_dataloader.dataset.indices={spaced(50000, subset)}')
    if memory_subset or subset:
        opts.append(f'knn_cfg.train_dataloader.dataset.indices={spaced(50000, memory_subset or subset)}')
    if query_subset:
        opts.append(f'knn_cfg.val_dataloader.dataset.indices={spaced(10000, query_subset)}')
    return opts


def _narrow(cfg, width: int) -> None:
    """ResNet-18 with ``width`` stem/base channels (64 is the standard network): the backbone's
    widths, and every neck/head ``in_channels`` that reads its 512 (or 9 x 512 for Jigsaw) channels."""
    if width == 64:
        return
    model = cfg['model']
    model['backbone'].update(base_channels=width, stem_channels=width)
    for part in ('neck', 'head'):
        sub = model.get(part) or {}
        if sub.get('in_channels') in (512, 9 * 512):
            sub['in_channels'] = sub['in_channels'] // 512 * width * 8


def _config(method: str, opts: list[str], width: int, iters: int | None = None, schedule: bool = True):
    """The method's config with ``opts``; with ``iters``, an iteration-based run of that length
    (5% linear warmup, then cosine to 0, unless ``schedule`` is False)."""
    from fovea.config import Config
    cfg = Config.fromfile(CONFIGS[method], opts)
    _narrow(cfg, width)
    if iters is not None:
        warmup = max(1, iters // 20)
        cfg['train_cfg'] = dict(type='IterBasedTrainLoop', max_iters=iters)
        cfg['param_scheduler'] = [
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup, end=iters, eta_min=0.0)] if schedule else []
    return cfg


def _knn(cfg, model) -> float:
    from fovea.evaluation.knn import knn_evaluate, knn_loaders
    memory, queries = knn_loaders(cfg)
    return knn_evaluate(model, memory, queries, k=200, temperature=0.1)['knn/top1']


_RANDOM_INIT: dict[str, float] = {}


def run(method: str, args) -> dict:
    import json
    from fovea.engine.runner import Runner
    from fovea.registry import DATASETS, MODELS, build
    work = tempfile.mkdtemp(prefix=f'ssl-{method}-')
    opts = _options(args.data, work, args.batch_size, args.workers, args.train_subset, args.memory_subset,
                    args.query_subset)
    cfg = _config(method, opts, args.width)
    # random init, measured in the same run (once per distinct backbone and kNN pipeline)
    key = json.dumps([cfg['model']['backbone'], cfg['knn_cfg']['val_dataloader']['dataset']['pipeline'],
                      cfg.get('data_preprocessor')], sort_keys=True, default=str)
    if key not in _RANDOM_INIT:
        torch.manual_seed(0)
        random_model = build(cfg.model_cfg(), MODELS, key='model')
        random_model.init_weights()
        _RANDOM_INIT[key] = _knn(cfg, random_model)
    knn_random = _RANDOM_INIT[key]
    n_images = len(build(cfg.train_dataloader['dataset'], DATASETS, key='dataset'))
    # calibration: seconds per iteration of a short run after its first iterations (loader start-up)
    warm, timed = 3, args.calibration_iters
    calib = _config(method, opts, args.width, iters=warm, schedule=False)
    t0 = time.perf_counter()
    Runner.from_cfg(calib).train()
    startup = time.perf_counter() - t0
    calib = _config(method, opts, args.width, iters=warm + timed, schedule=False)
    t0 = time.perf_counter()
    Runner.from_cfg(calib).train()
    per_iter = max(1e-3, (time.perf_counter() - t0 - startup) / timed)
    iters = max(10, math.floor((args.minutes * 60 - startup) / per_iter))
    cfg = _config(method, opts, args.width, iters=iters)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    knn_trained = _knn(cfg, runner.unwrapped_model)
    row = dict(method=method, images=n_images, iters=iters, epochs=iters * args.batch_size / n_images,
               train_s=train_s, knn_random=knn_random, knn_trained=knn_trained, work_dir=work)
    print('RESULT', json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True, help='CIFAR-10 class folders (train/, test/)')
    p.add_argument('--minutes', type=float, default=15.0, help='training budget per method')
    p.add_argument('--methods', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--train-subset', type=int, default=None, help='use N training images, evenly spaced over the classes')
    p.add_argument('--memory-subset', type=int, default=None,
                   help='kNN memory bank of N training images, evenly spaced over the classes (default: all)')
    p.add_argument('--query-subset', type=int, default=None, help='kNN on N test images, evenly spaced over the classes (smoke runs)')
    p.add_argument('--width', type=int, default=64, help='ResNet-18 stem/base width (64: the standard network)')
    p.add_argument('--calibration-iters', type=int, default=8)
    args = p.parse_args()
    rows = [run(m, args) for m in args.methods]
    print(f'\nkNN top-1 (k=200, T=0.1) on {args.query_subset or 10000} CIFAR-10 test images, memory '
          f'{args.memory_subset or args.train_subset or 50000} training images, CIFAR ResNet-18 (width '
          f'{args.width}), {args.minutes:g} min of training each, {torch.get_num_threads()} thread(s)')
    print('| method | train images | iterations (epochs) | train time | random init | pretrained | gain |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['method']} | {r['images']} | {r['iters']} ({r['epochs']:.1f}) | {r['train_s'] / 60:.1f} min | "
              f"{r['knn_random']:.2f} | {r['knn_trained']:.2f} | {r['knn_trained'] - r['knn_random']:+.2f} |")


if __name__ == '__main__':
    main()

"""Self-supervised pretraining on the real CIFAR-10 JPEGs: does it work, for the same wall-clock budget?

For each method (SimCLR, MoCo v2, BYOL, Barlow Twins and the pretext tasks RotationPred, RelativeLoc,
Jigsaw and Colorization, each with the same CIFAR ResNet-18 and the shipped `<method>_resnet18_cifar10` config), a short calibration run measures the step time, the
epoch count is set so the training fits ``--minutes``, the model trains, and the weighted kNN top-1
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
             query_subset: int | None = None) -> list[str]:
    opts = [f'work_dir={work_dir}', f'train_dataloader.batch_size={batch_size}',
            f'train_dataloader.num_workers={workers}', 'custom_hooks=[]', 'default_hooks.checkpoint.interval=1000',
            'randomness.seed=0']
    for key in ('train_dataloader', 'knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.dataset.data_root={data}')
    for key in ('knn_cfg.train_dataloader', 'knn_cfg.val_dataloader'):
        opts.append(f'{key}.num_workers={workers}')
    if subset:
        # evenly spaced over the class-sorted folders, so every class is in the subset
        picks = list(range(0, 50000, max(1, 50000 // subset)))[:subset]
        opts += [f'train_dataloader.dataset.indices={picks}', f'knn_cfg.train_dataloader.dataset.indices={picks}']
    if query_subset:
        picks = list(range(0, 10000, max(1, 10000 // query_subset)))[:query_subset]
        opts.append(f'knn_cfg.val_dataloader.dataset.indices={picks}')
    return opts


def _knn(cfg, model) -> float:
    from fovea.evaluation.knn import knn_evaluate, knn_loaders
    memory, queries = knn_loaders(cfg)
    return knn_evaluate(model, memory, queries, k=200, temperature=0.1)['knn/top1']


def run(method: str, args) -> dict:
    from fovea.config import Config
    from fovea.engine.runner import Runner
    from fovea.registry import MODELS, build
    work = tempfile.mkdtemp(prefix=f'ssl-{method}-')
    opts = _options(args.data, work, args.batch_size, args.workers, args.train_subset, args.query_subset)
    # random init, measured in the same run
    cfg = Config.fromfile(CONFIGS[method], opts)
    torch.manual_seed(0)
    random_model = build(cfg.model_cfg(), MODELS, key='model')
    random_model.init_weights()
    knn_random = _knn(cfg, random_model)
    # calibration: seconds per iteration of a short run (start-up included: a conservative estimate)
    from fovea.registry import DATASETS
    n_images = len(build(cfg.train_dataloader['dataset'], DATASETS, key='dataset'))
    iters_per_epoch = max(1, n_images // args.batch_size)
    calib = Config.fromfile(CONFIGS[method], opts + ['param_scheduler=[]', 'train_cfg=None',
                                                       f'train_cfg.type=IterBasedTrainLoop',
                                                       f'train_cfg.max_iters={args.calibration_iters}'])
    t0 = time.perf_counter()
    Runner.from_cfg(calib).train()
    per_iter = (time.perf_counter() - t0) / args.calibration_iters
    epochs = max(2, math.floor(args.minutes * 60 / (per_iter * iters_per_epoch)))
    cfg = Config.fromfile(CONFIGS[method], opts + [f'train_cfg.max_epochs={epochs}',
                                                     f'param_scheduler.0.end={max(1, min(5, epochs // 10))}',
                                                     f'param_scheduler.1.begin={max(1, min(5, epochs // 10))}'])
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    knn_trained = _knn(cfg, runner.unwrapped_model)
    return dict(method=method, images=n_images, epochs=epochs, train_s=train_s, knn_random=knn_random,
                knn_trained=knn_trained)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', required=True, help='CIFAR-10 class folders (train/, test/)')
    p.add_argument('--minutes', type=float, default=15.0, help='training budget per method')
    p.add_argument('--methods', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--train-subset', type=int, default=None, help='use N training images, evenly spaced over the classes')
    p.add_argument('--query-subset', type=int, default=None, help='kNN on N test images, evenly spaced over the classes (smoke runs)')
    p.add_argument('--calibration-iters', type=int, default=8)
    args = p.parse_args()
    rows = [run(m, args) for m in args.methods]
    print(f'\nkNN top-1 (k=200, T=0.1) on {args.query_subset or 10000} CIFAR-10 test images, CIFAR ResNet-18, '
          f'{args.minutes:g} min of training each')
    print('| method | train images | epochs | train time | random init | pretrained | gain |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['method']} | {r['images']} | {r['epochs']} | {r['train_s'] / 60:.1f} min | {r['knn_random']:.2f} | "
              f"{r['knn_trained']:.2f} | {r['knn_trained'] - r['knn_random']:+.2f} |")


if __name__ == '__main__':
    main()

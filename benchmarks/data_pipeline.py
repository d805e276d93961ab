"""Images/second of fovea's ImageNet pipelines against plain torchvision, on real JPEGs.

Train: decode JPEG -> RandomResizedCrop 224 -> horizontal flip -> pack.
Test:  decode JPEG -> resize short edge 256 -> centre crop 224 -> pack.

fovea: ``CustomDataset`` + MMPretrain-style pipeline configs + ``build_dataloader``.
Baseline: ``torchvision.datasets.ImageFolder`` (PIL loading) + ``transforms.v2`` in the order the
torchvision docs recommend (``ToImage`` first, then tensor ops) + a plain ``DataLoader``.
Both stop at a batch of uint8 tensors (normalisation happens on the device in fovea), with the
same batch size and number of workers. Each side runs ``--rounds`` full passes, interleaved
(fovea, torchvision, fovea, ...) so that load changes on a shared machine hit both; the best
pass of each is compared.

Data: the Imagenette validation JPEGs (3,925 images, 224x224, 242 greyscale):
    python benchmarks/data_pipeline.py --tar ../shared/data/imagenette2-224-val.tar
(extracted once to /tmp/data/imagenette).

What crosses from a worker per batch is the image tensor and one tensor per DataSample field
(fovea's SampleList): before, every sample's label crossed as its own shared-memory tensor (a
file descriptor passed per sample, a socket round trip to the worker each), the likely cause of the
0.84/0.86 loader ratios measured before although fovea's per-image work is faster.
"""
from __future__ import annotations

import argparse
import os
import tarfile
import time

import torch


def extract(tar: str, dest: str) -> str:
    root = os.path.join(dest, 'val')
    if not os.path.isdir(root):
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(tar) as t:
            t.extractall(dest, filter='data')
    return root


def fovea_loader(root: str, train: bool, batch_size: int, workers: int, limit: int | None = None):
    from fovea.data.loader import build_dataloader
    if train:
        pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomResizedCrop', scale=224),
                    dict(type='RandomFlip', prob=0.5, direction='horizontal'), dict(type='PackInputs')]
    else:
        pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=256, edge='short'),
                    dict(type='CenterCrop', crop_size=224), dict(type='PackInputs')]
    cfg = dict(batch_size=batch_size, num_workers=workers, persistent_workers=False,
               sampler=dict(type='DefaultSampler', shuffle=train),
               dataset=dict(type='CustomDataset', data_prefix=root, pipeline=pipeline, indices=limit))
    return build_dataloader(cfg, seed=0)


def torchvision_loader(root: str, train: bool, batch_size: int, workers: int, limit: int | None = None):
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2
    if train:
        tf = v2.Compose([v2.ToImage(), v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()])
    else:
        tf = v2.Compose([v2.ToImage(), v2.Resize(256, antialias=True), v2.CenterCrop(224)])
    dataset = ImageFolder(root, transform=tf)
    if limit:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    return DataLoader(dataset, batch_size=batch_size, shuffle=train, num_workers=workers)


def one_pass(loader) -> tuple[float, int]:
    n = 0
    t0 = time.perf_counter()
    for batch in loader:
        x = batch['inputs'] if isinstance(batch, dict) else batch[0]
        assert x.dtype == torch.uint8 and tuple(x.shape[1:]) == (3, 224, 224), x.shape
        n += x.shape[0]
    return n / (time.perf_counter() - t0), n


def in_process(make, root: str, train: bool, limit: int | None = None, step: int = 5) -> float:
    """ms per image of the dataset alone (no loader), in this process: less noisy on a busy machine."""
    ds = make(root, train, 1, 0, limit).dataset
    idx = range(0, len(ds), step)
    t0 = time.perf_counter()
    for i in idx:
        ds[i]
    return (time.perf_counter() - t0) / len(idx) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tar', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data',
                                                 'imagenette2-224-val.tar'))
    p.add_argument('--data', default='/tmp/data/imagenette', help='where the tar is extracted')
    p.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1))
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--limit', type=int, default=None, help='use only the first N images (a quick check that it runs)')
    args = p.parse_args()
    root = extract(args.tar, args.data)
    torch.set_num_threads(1)
    print(f'data: {root}  workers: {args.workers}  batch: {args.batch_size}  torch {torch.__version__}  '
          f'cpus: {os.cpu_count()}  load avg: {os.getloadavg()[0]:.1f}')
    for name, train in (('train (decode, RandomResizedCrop 224, flip, pack)', True),
                        ('test (decode, resize 256, centre crop 224, pack)', False)):
        best = {'fovea': 0.0, 'torchvision': 0.0}
        for r in range(args.rounds):
            for side, make in (('fovea', fovea_loader), ('torchvision', torchvision_loader)):
                ips, n = one_pass(make(root, train, args.batch_size, args.workers, args.limit))
                best[side] = max(best[side], ips)
                print(f'  {name[:5]} round {r}: {side:<11} {ips:8.1f} img/s ({n} images)')
        ms = {side: min(in_process(make, root, train, args.limit) for _ in range(2))
              for side, make in (('fovea', fovea_loader), ('torchvision', torchvision_loader))}
        ratio = best['fovea'] / best['torchvision']
        print(f'{name}:\n  loader ({args.workers} workers): fovea {best["fovea"]:.1f} img/s, torchvision '
              f'{best["torchvision"]:.1f} img/s, ratio {ratio:.2f} (goal >= 1.0)\n'
              f'  one process, per image: fovea {ms["fovea"]:.2f} ms, torchvision {ms["torchvision"]:.2f} ms, '
              f'ratio {ms["torchvision"] / ms["fovea"]:.2f}')


if __name__ == '__main__':
    main()

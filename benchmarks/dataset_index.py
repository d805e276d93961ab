"""How long building a dataset index takes at ImageNet scale, on generated entries.

1. Annotation file: 1,281,167 ``<wnid>/<wnid>_<n>.JPEG <label>`` lines (ImageNet-1k train size),
   parsed by ``CustomDataset`` into its compact index, against the straightforward approach
   (a list of ``{'img_path', 'gt_label'}`` dicts built line by line, as MMPretrain does).
   Also the memory each index holds (tracemalloc).
2. Class folders: ``--files`` empty files in 1000 class folders, scanned by ``CustomDataset``
   against ``torchvision.datasets.folder.make_dataset`` (ImageFolder's scan), extrapolated to
   1.28M files.

    python benchmarks/dataset_index.py [--files 200000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import tracemalloc

N_IMAGENET = 1_281_167


def naive_parse(path: str, prefix: str) -> list[dict]:
    out = []
    with open(path) as f:
        for line in f:
            name, label = line.strip().rsplit(' ', 1)
            out.append({'img_path': os.path.join(prefix, name), 'gt_label': int(label)})
    return out


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def memory_mib(fn) -> float:
    """MiB still allocated by what ``fn`` returns (tracemalloc slows Python down: timed separately)."""
    tracemalloc.start()
    result = fn()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return current / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--lines', type=int, default=N_IMAGENET)
    p.add_argument('--files', type=int, default=100_000)
    p.add_argument('--tmp', default=tempfile.gettempdir())
    args = p.parse_args()
    from fovea.data.datasets.custom import CustomDataset

    work = tempfile.mkdtemp(prefix='fovea_index_', dir=args.tmp)
    try:
        ann = os.path.join(work, 'train.txt')
        per_class = -(-args.lines // 1000)
        with open(ann, 'w') as f:
            for i in range(args.lines):
                c = i // per_class
                f.write(f'n{c:08d}/n{c:08d}_{i}.JPEG {c}\n')
        naive, t_naive = timed(lambda: naive_parse(ann, '/data/imagenet/train'))
        del naive
        ds, t_fovea = timed(lambda: CustomDataset(ann_file=ann, data_prefix='/data/imagenet/train'))
        m_naive = memory_mib(lambda: naive_parse(ann, '/data/imagenet/train'))
        m_fovea = memory_mib(lambda: CustomDataset(ann_file=ann, data_prefix='/data/imagenet/train'))
        assert len(ds) == args.lines and ds.get_data_info(args.lines - 1)['gt_label'] == (args.lines - 1) // per_class
        print(f'annotation file, {args.lines:,} lines:')
        print(f'  fovea CustomDataset   {t_fovea:6.2f} s  {m_fovea:7.1f} MiB')
        print(f'  list of dicts         {t_naive:6.2f} s  {m_naive:7.1f} MiB')
        print(f'  ratio (time): {t_naive / t_fovea:.2f}x faster, memory {m_naive / m_fovea:.1f}x smaller')

        root = os.path.join(work, 'folders')
        per_class = max(1, args.files // 1000)
        for c in range(1000):
            d = os.path.join(root, f'n{c:08d}')
            os.makedirs(d)
            for j in range(per_class):
                open(os.path.join(d, f'n{c:08d}_{j}.JPEG'), 'wb').close()
        n_files = 1000 * per_class
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset
        t0 = time.perf_counter()
        ds = CustomDataset(data_prefix=root)
        t_fovea = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, class_to_idx = find_classes(root)
        tv = make_dataset(root, class_to_idx, extensions=IMG_EXTENSIONS)
        t_tv = time.perf_counter() - t0
        assert len(ds) == len(tv) == n_files
        scale = N_IMAGENET / n_files
        print(f'class folders, {n_files:,} files in 1000 folders (x{scale:.1f} to ImageNet size):')
        print(f'  fovea CustomDataset   {t_fovea:6.2f} s  (~{t_fovea * scale:5.1f} s for 1.28M)')
        print(f'  torchvision ImageFolder scan {t_tv:6.2f} s  (~{t_tv * scale:5.1f} s for 1.28M)')
        print(f'  ratio: {t_tv / t_fovea:.2f}x')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()

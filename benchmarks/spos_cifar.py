"""SPOS on the real CIFAR-10 JPEGs at 32 px: does the one-shot search find a good subnet, and does the
supernet rank subnets as training them would?

With the narrow ShuffleNetV2 space of `spos_shufflenet_supernet_cifar10` (the SPOS structure, 20 one-shot
layers of shuffle_3x3/5x5/7x7/xception, stage widths x``--width``, stride-1 stem):

1. supernet training (one uniform path per step, MMRazor's recipe scaled to the batch) on 45,000 training
   images for ``--minutes`` (a short calibration run measures the step time; iteration-based linear decay);
2. evolution search (MMRazor's loop, fewer epochs/candidates by default) under ``--budget`` MFLOPs (MACs at
   32 px), candidates scored on held-out training images (2,500 of the 5,000 by default), BN recalibrated
   per candidate;
3. the searched subnet's supernet-inherited top-1 on the 10,000 test images against ``--random`` random
   subnets within the same budget (same BN recalibration);
4. Kendall tau between inherited top-1 and top-1 after a short standalone training (the same number of
   iterations each, ``--standalone-minutes`` for the first) for ``--rank-subnets`` subnets (the searched
   one and random ones).

    python benchmarks/spos_cifar.py --data /tmp/data/cifar10            # about 30 minutes on 2 cores (estimate)
    python benchmarks/spos_cifar.py --data /tmp/data/cifar10 --minutes 0.2 --tiny   # smoke run

Run it on a quiet machine and say so with the numbers. Prints RESULT lines; ``--out`` writes them as JSON.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

N_TRAIN, N_TEST = 50000, 10000


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either ranking counted as neither concordant nor discordant)."""
    conc = disc = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + ties_a) * (conc + disc + ties_b)) ** 0.5
    return (conc - disc) / denom if denom else float('nan')


def _splits(args) -> tuple[list[int], list[int], list[int]]:
    """Supernet training images, held-out search images (every 10th training image; the folders are
    class-sorted, so all classes), test images."""
    held_out = list(range(0, N_TRAIN, 10))
    train = sorted(set(range(N_TRAIN)) - set(held_out))
    held_out = held_out[::args.search_every]
    test = list(range(N_TEST))
    if args.tiny:
        train, held_out, test = train[::100], held_out[::25], test[::50]
    return train, held_out, test


def _load(name: str, args, work_dir: Path, iters: int | None = None):
    """A shipped config set up for this run: data, width, batch, and an iteration-based linear decay."""
    from fovea.config import Config
    train, _, test = _splits(args)
    cfg = Config.fromfile(name)
    cfg['work_dir'] = str(work_dir)
    cfg['randomness'] = dict(seed=0)
    bb = cfg.model.architecture.backbone
    bb['widen_factor'], bb['last_channels'] = args.width, args.last_channels
    cfg.model.architecture.head['in_channels'] = args.last_channels
    for key, idx in (('train_dataloader', train), ('val_dataloader', test)):
        loader = cfg[key]
        loader['dataset'] = dict(loader['dataset'], data_root=args.data, indices=idx)
        loader['num_workers'], loader['persistent_workers'] = args.workers, False
    cfg.train_dataloader['batch_size'] = args.batch_size
    cfg.optim_wrapper.optimizer['lr'] = 0.5 * args.batch_size / 1024
    cfg.default_hooks.logger.update(interval=50, tensorboard=False)
    if iters is not None:
        cfg['train_cfg'] = dict(by_epoch=False, max_iters=iters, val_interval=10 * iters)
        cfg['param_scheduler'] = [dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=0, end=iters)]
        cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    return cfg


def _iteration_budget(cfg, minutes: float, calib_iters: int = 12) -> int:
    """Iterations that fit ``minutes``, from the time of a short run of ``cfg`` (start-up excluded)."""
    import copy
    from fovea.engine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg['train_cfg'] = dict(by_epoch=False, max_iters=calib_iters, val_interval=10 * calib_iters)
    cfg['param_scheduler'] = []
    cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=calib_iters, by_epoch=False)
    cfg['work_dir'] = cfg['work_dir'] + '_calibration'
    runner = Runner.from_cfg(cfg)
    times = []
    model = runner.unwrapped_model
    original = model.after_optimizer_step

    def timed(step, max_steps=None):
        times.append(time.perf_counter())
        original(step, max_steps)
    model.after_optimizer_step = timed
    runner.train()
    step = (times[-1] - times[2]) / max(1, len(times) - 3)
    return max(2, int(minutes * 60 / step))  # PolyLR needs end - begin >= 2


def train_supernet(args, work: Path) -> tuple[str, int]:
    from fovea.engine.runner import Runner
    iters = _iteration_budget(_load('spos_shufflenet_supernet_cifar10', args, work / 'supernet'), args.minutes)
    print(f'supernet: {iters} iterations of {args.batch_size} images for {args.minutes} min', flush=True)
    runner = Runner.from_cfg(_load('spos_shufflenet_supernet_cifar10', args, work / 'supernet', iters))
    start = time.time()
    runner.train()
    ckpt = str(Path(runner.run_dir) / f'iter_{iters}.pth')
    print(f'supernet trained in {(time.time() - start) / 60:.1f} min -> {ckpt}', flush=True)
    return ckpt, iters


def search(args, ckpt: str, work: Path):
    from fovea.engine.runner import Runner
    from fovea.models.weights import load_weights
    from fovea.nas.search import EvolutionSearchLoop
    from fovea.utils.weights import read_weights
    cfg = _load('spos_shufflenet_search_cifar10', args, work / 'search')
    _, held_out, _ = _splits(args)
    loop_cfg = dict(cfg.train_cfg)
    loop_cfg.pop('type')
    search_loader = dict(loop_cfg.pop('dataloader'))
    search_loader['dataset'] = dict(search_loader['dataset'], data_root=args.data, data_prefix='train',
                                    test_mode=False, indices=held_out)
    search_loader.update(num_workers=args.workers, persistent_workers=args.workers > 0)
    test_loader = dict(cfg.val_dataloader)
    loop_cfg.update(max_epochs=args.search_epochs, num_candidates=args.candidates, top_k=args.top_k,
                    num_mutation=args.candidates // 2, num_crossover=args.candidates // 2,
                    calibrate_sample_num=args.calib, constraints_range=dict(flops=(0., args.budget)))
    cfg['train_cfg'] = dict(by_epoch=False, max_iters=1)  # the runner only builds the model and loaders
    runner = Runner.from_cfg(cfg)
    runner._prepare_run_dir()
    load_weights(runner.unwrapped_model, read_weights(ckpt), require_all=True)
    start = time.time()
    loop = EvolutionSearchLoop(runner, dataloader=search_loader, **loop_cfg)
    best = loop.run()
    print(f'search: {len(loop.history)} subnets scored in {(time.time() - start) / 60:.1f} min; best '
          f'{best["score"]:.2f} (held-out) at {best["flops"]:.2f} MFLOPs', flush=True)
    # the test set, the same recalibration: the searched subnet against random ones in the budget
    tester = EvolutionSearchLoop(runner, dataloader=test_loader, **dict(loop_cfg, seed=1))
    searched = tester.score(best['subnet'])
    randoms = []
    while len(randoms) < args.random:
        c = tester._sample_feasible()
        if tester._key(c) != tester._key(best['subnet']) and all(tester._key(c) != tester._key(r) for r in randoms):
            randoms.append(c)
    random_scores = [tester.score(c) for c in randoms]
    return runner, best, searched, randoms, random_scores, tester


def standalone(args, subnets: list[dict], work: Path) -> list[float]:
    """Top-1 on the test set of each subnet trained from scratch, the same iterations each."""
    from fovea.engine.runner import Runner
    results, iters = [], None

    def subnet_cfg(i, choices, n):
        cfg = _load('spos_shufflenet_supernet_cifar10', args, work / f'standalone_{i}', n)
        cfg['model'] = dict(type='sub_model', cfg=cfg.to_dict()['model']['architecture'], fix_subnet=dict(choices))
        cfg['env_cfg'] = dict(cfg.get('env_cfg') or {}, find_unused_parameters=False)
        return cfg
    for i, choices in enumerate(subnets):
        if iters is None:
            iters = _iteration_budget(subnet_cfg(i, choices, None), args.standalone_minutes)
            print(f'standalone: {iters} iterations per subnet', flush=True)
        r = Runner.from_cfg(subnet_cfg(i, choices, iters))
        r.train()
        top1 = float(r.last_metrics['val']['accuracy/top1'])
        results.append(top1)
        print(f'standalone {i + 1}/{len(subnets)}: top-1 {top1:.2f}', flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default='/tmp/data/cifar10')
    p.add_argument('--minutes', type=float, default=12., help='supernet training budget')
    p.add_argument('--width', type=float, default=0.25, help='stage width multiplier of the space')
    p.add_argument('--last-channels', type=int, default=256)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--budget', type=float, default=2.7, help='MFLOPs (MACs at 32 px) budget of the search')
    p.add_argument('--search-every', type=int, default=2,
                   help='score candidates on every n-th of the 5,000 held-out images (2: 2,500)')
    p.add_argument('--search-epochs', type=int, default=6)
    p.add_argument('--candidates', type=int, default=24)
    p.add_argument('--top-k', type=int, default=10)
    p.add_argument('--calib', type=int, default=512, help='training images for BN recalibration per subnet')
    p.add_argument('--random', type=int, default=20, help='random subnets in the budget to compare with')
    p.add_argument('--rank-subnets', type=int, default=8, help='subnets trained standalone for Kendall tau')
    p.add_argument('--standalone-minutes', type=float, default=0.75, help='training time of the first one')
    p.add_argument('--tiny', action='store_true', help='a few images only (smoke run)')
    p.add_argument('--out', help='write the results as JSON')
    p.add_argument('--work-dir', default=None)
    args = p.parse_args()
    if args.tiny:
        args.search_epochs, args.candidates, args.top_k, args.calib = 1, 4, 2, 16
        args.random, args.rank_subnets = min(args.random, 3), min(args.rank_subnets, 3)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix='spos_cifar_'))
    t0 = time.time()
    ckpt, iters = train_supernet(args, work)
    runner, best, searched, randoms, random_scores, tester = search(args, ckpt, work)
    ranked = [best['subnet']] + randoms[:args.rank_subnets - 1]
    inherited = [searched] + random_scores[:args.rank_subnets - 1]
    trained = standalone(args, ranked, work)
    tau = kendall_tau(inherited, trained)
    res = dict(supernet_iters=iters, supernet_minutes=args.minutes, budget_mflops=args.budget,
               searched=dict(subnet=tester.mutator.encode(best['subnet']), mflops=round(best['flops'], 3),
                             held_out_top1=best['score'], test_top1_inherited=searched),
               random_test_top1_inherited=random_scores,
               random_mflops=[round(tester.resources(c)['flops'], 3) for c in randoms],
               beats_all_random=bool(searched > max(random_scores)),
               rank=dict(inherited=inherited, standalone=trained, kendall_tau=tau),
               total_minutes=round((time.time() - t0) / 60, 1), tiny=args.tiny)
    print(f'RESULT spos_cifar searched_inherited_top1={searched:.2f} random_max={max(random_scores):.2f} '
          f'random_mean={sum(random_scores) / len(random_scores):.2f} beats_all={res["beats_all_random"]} '
          f'kendall_tau={tau:.3f} (n={len(ranked)}) total_min={res["total_minutes"]}')
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == '__main__':
    main()

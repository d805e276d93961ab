"""Soak test: `fovea train` killed again and again at random moments, resumed each time with
`--resume auto`; at the end the weights must equal (bitwise) those of an uninterrupted run.

Each cycle starts the training (resuming), waits a random time and kills it: with SIGKILL at a
random moment (most cycles), with SIGKILL while a checkpoint is being written (the process is held
between the last write and the rename), or with SIGTERM (graceful stop). After every kill all
checkpoint files are loaded with ``torch.load(weights_only=True)`` (nothing truncated under a final
name), and the newest checkpoint must not be older than the one before the kill (no work lost).

    python benchmarks/soak.py --cycles 20            # ~13 min on a shared, loaded 2-core machine
    python benchmarks/soak.py --cycles 5 --epochs 3  # quick

Prints one line per cycle and a summary: faults injected by kind, checkpoints verified,
iterations recomputed, and whether the final weights equal the reference.
"""
from __future__ import annotations

import argparse
import collections
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests' / 'reliability'))
from _faults import (ITERS_PER_EPOCH, fault_hook_option, final_state, subprocess_env, tiny_options,  # noqa: E402
                     train_cmd)


def newest_iter(work: Path) -> int:
    pointer = work / 'last_checkpoint'
    if not pointer.is_file():
        return 0
    return int(torch.load(Path(pointer.read_text().strip()), weights_only=True)['meta']['iter'])


def verify_all(work: Path) -> int:
    """Load every checkpoint (weights-only); return how many there are."""
    n = 0
    for p in work.rglob('*.pth'):
        ckpt = torch.load(p, weights_only=True)
        assert 'state_dict' in ckpt, p
        assert all(bool(torch.isfinite(v).all()) for v in ckpt['state_dict'].values() if v.is_floating_point()), p
        n += 1
    return n


def start_and_wait(cmd: list[str], work: Path, cwd: Path, env: dict, log) -> tuple[subprocess.Popen, float]:
    """Start a run; return it once it has created its run directory (start-up done) and the time that took."""
    n = len([d for d in work.iterdir() if d.is_dir()]) if work.is_dir() else 0
    t = time.time()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=log)
    while proc.poll() is None and (len([d for d in work.iterdir() if d.is_dir()]) if work.is_dir() else 0) == n:
        time.sleep(0.02)
    return proc, time.time() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cycles', type=int, default=20, help='number of faults to inject')
    ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--seed', type=int, default=0, help='seed of the fault schedule (training uses seed 0)')
    ap.add_argument('--work', help='folder for the runs (default: a temporary folder, deleted afterwards)')
    ap.add_argument('--precision', default=None, help="env_cfg.precision (default: the config's, 'auto')")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(args.work or tempfile.mkdtemp(prefix='fovea_soak_'))
    root.mkdir(parents=True, exist_ok=True)
    # checkpoints every 2 iterations (so random kills land mid-epoch too and resume skips batches)
    extra = ('default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.interval=2',
             *((f'env_cfg.precision={args.precision}',) if args.precision else ()))
    env = subprocess_env()
    total_iters = args.epochs * ITERS_PER_EPOCH
    log = open(root / 'soak.log', 'ab')

    t0 = time.time()
    ref = root / 'reference'
    proc, startup = start_and_wait(train_cmd(tiny_options(ref, args.epochs, extra)), ref, root, env, log)
    t1 = time.time()
    if proc.wait() != 0:
        print(f'the reference run failed; see {root / "soak.log"}')
        return 2
    train_time = time.time() - t1
    print(f'reference run: {total_iters} iterations, start-up {startup:.1f} s, training {train_time:.1f} s')

    kinds: collections.Counter[str] = collections.Counter()
    checked = runs = 0
    results = []
    session = 0
    faults = 0
    while faults < args.cycles:   # one session = one complete training, killed until it finishes
        session += 1
        work = root / f'soak_{session}'
        cycle = 0
        while faults < args.cycles:
            before = newest_iter(work)
            cycle += 1
            kind = rng.choices(['sigkill_random', 'sigkill_in_save', 'sigterm'], weights=[6, 2, 2])[0]
            opts = list(tiny_options(work, args.epochs, extra))
            markers = root / f'markers_{session}_{cycle}'
            if kind == 'sigkill_in_save':
                opts.append(fault_hook_option(marker_dir=str(markers), pause_save='iter_'))
            proc, _ = start_and_wait(train_cmd(opts, resume=True), work, root, env, log)
            runs += 1
            if kind == 'sigkill_in_save':
                deadline = time.time() + 4 * train_time + 60
                while not (markers / 'paused_save').exists() and proc.poll() is None and time.time() < deadline:
                    time.sleep(0.02)
            else:
                remaining = max((total_iters - before) / total_iters, 0.1)
                time.sleep(rng.uniform(0.0, 1.0) * remaining * train_time)
            proc.send_signal(signal.SIGKILL if kind.startswith('sigkill') else signal.SIGTERM)
            code = proc.wait()
            finished = code == 0
            kinds[kind if not finished else 'finished_before_the_fault'] += 1
            faults += not finished
            checked += verify_all(work)
            after = newest_iter(work)
            assert after >= before, f'cycle {cycle}: the newest checkpoint went back from iteration {before} to {after}'
            leftovers = [p.name for p in work.rglob('*.tmp')]
            print(f'session {session} cycle {cycle:2d}: {kind:15s} exit {code:4d}  newest checkpoint: iteration '
                  f'{before:3d} -> {after:3d}{"  (finished before the fault)" if finished else ""}'
                  f'{"  (partial file left under a temp name: " + ", ".join(leftovers) + ")" if leftovers else ""}',
                  flush=True)
            if finished:
                break
        if newest_iter(work) < total_iters:  # finish (the temp files of killed runs are removed on resume)
            out = subprocess.run(train_cmd(tiny_options(work, args.epochs, extra), resume=True), cwd=root, env=env,
                                 capture_output=True, text=True)
            runs += 1
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        checked += verify_all(work)
        a, b = final_state(ref), final_state(work)
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        leftovers = list(work.rglob('*.tmp'))
        results.append(same and not leftovers)
        print(f'session {session}: final weights equal to the uninterrupted run (bitwise): {same}; '
              f'temp files left: {len(leftovers)}', flush=True)
    print(f'\nfaults injected: {faults} ({", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))}) over '
          f'{session} complete trainings and {runs} runs; {checked} checkpoint loads verified (weights_only, finite)')
    print(f'trainings identical to the uninterrupted run: {sum(results)}/{len(results)}; '
          f'wall time {time.time() - t0:.0f} s')
    if not args.work:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == '__main__':
    sys.exit(main())

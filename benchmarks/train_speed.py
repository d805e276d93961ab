"""Training throughput: images/s of one full training iteration (preprocess, forward, loss, backward,
optimizer step) for ResNet-50 and DeiT-S, fovea's defaults against timm, all in one run.

Rows per model:

* ``fovea default``   - the shipped config's model and optim_wrapper (resnet50_8xb32_in1k: SGD;
  deit-small_4xb256_in1k: AdamW + paramwise decay + clip_grad 5), built and stepped through
  ``model.train_step``, with the Runner's default ``env_cfg``: precision 'auto' (bf16 autocast when
  the CPU/GPU runs bf16 natively) and channels_last for CNNs. Batch augments (Mixup/CutMix) are
  removed from the configs because timm's default loop has none.
* ``timm default``    - ``timm.create_model`` + ``timm.optim.create_optimizer_v2`` (same optimizer
  family and hyper-parameters), fp32, NCHW: what ``timm train.py`` does without ``--amp``/``--channels-last``.
* ``timm matched``    - timm with fovea's settings (bf16 autocast, channels_last for the CNN, same clip).
* ``mmpretrain default`` - only when ``--mmpretrain-python PATH`` names a Python with MMPretrain
  installed (a separate venv): its default fp32 ``OptimWrapper`` loop, timed in a subprocess.

Every iteration includes the uint8 -> float normalisation of the batch (fovea's data preprocessor;
done by hand for timm). Configurations are timed in interleaved rounds so drifting load on a shared
machine affects them alike; the median iteration time is reported. Ratios are fovea / other.

    python benchmarks/train_speed.py                  # batch 32, 224 px
    python benchmarks/train_speed.py --img-size 160 --rounds 2   # quicker
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def fovea_step(config: str, batch: int, size: int, device: str):
    from fovea.config import Config
    from fovea.engine.optim_constructor import build_optim_wrapper
    from fovea.engine.optim_wrapper import resolve_precision
    from fovea.registry import MODELS
    from fovea.structures import DataSample
    cfg = Config.fromfile(config)
    mcfg = dict(cfg['model'])
    mcfg.pop('train_cfg', None)
    if isinstance(mcfg.get('backbone'), dict) and 'img_size' in mcfg['backbone']:
        mcfg['backbone'] = dict(mcfg['backbone'], img_size=size)
    model = MODELS.build(mcfg)
    model.init_weights()
    model.to(device).train()
    precision = resolve_precision('auto', device)
    cl = bool(getattr(model.backbone, 'prefers_channels_last', False))
    if cl:
        model.to(memory_format=torch.channels_last)
        model.data_preprocessor.channels_last = True
    ow = build_optim_wrapper(model, dict(cfg['optim_wrapper']), precision, device)
    data = {'inputs': torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8),
            'data_samples': [DataSample().set_gt_label(i % 1000) for i in range(batch)]}

    def step():
        model.train_step(data, ow)
    return step, f'{precision}, channels_last={cl}, {type(ow.optimizer).__name__}'


def timm_step(name: str, kind: str, batch: int, size: int, device: str, matched: bool, clip: float | None):
    import timm
    from timm.optim import create_optimizer_v2

    from fovea.engine.optim_wrapper import resolve_precision
    model = timm.create_model(name, num_classes=1000, img_size=size) if 'deit' in name else \
        timm.create_model(name, num_classes=1000)
    model.to(device).train()
    if kind == 'cnn':
        opt = create_optimizer_v2(model, 'momentum', lr=0.1, momentum=0.9, weight_decay=1e-4)
    else:
        opt = create_optimizer_v2(model, 'adamw', lr=1e-3, weight_decay=0.05)
    precision = resolve_precision('auto', device) if matched else 'fp32'
    cl = matched and kind == 'cnn'
    if cl:
        model.to(memory_format=torch.channels_last)
    crit = nn.CrossEntropyLoss()
    x_u8 = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    y = torch.arange(batch, device=device) % 1000
    mean, std = MEAN.to(device), STD.to(device)
    ctx = (lambda: torch.autocast(device, dtype=torch.bfloat16)) if precision == 'bf16' else contextlib.nullcontext

    def step():
        x = (x_u8.float() - mean) / std
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with ctx():
            loss = crit(model(x), y)
        loss.backward()
        if clip and matched:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, f'{precision}, channels_last={cl}, {type(opt).__name__}'


def mmpretrain_times(cfg_name: str, batch: int, size: int, warmup: int, iters: int, threads: int) -> list[float]:
    """Runs inside a Python that has MMPretrain: its default training step (fp32 mmengine OptimWrapper,
    ``model.train_step``) on the same synthetic batch; returns per-iteration seconds."""
    import mmpretrain  # noqa: F401
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    from mmpretrain.utils import register_all_modules
    register_all_modules()
    torch.set_num_threads(threads)
    from mmpretrain.apis.model import ModelHub
    cfg = ModelHub.get(cfg_name).config  # the config MMPretrain ships under this name
    mcfg = cfg.model
    mcfg.pop('train_cfg', None)  # no Mixup/CutMix, as in the other rows
    if 'data_preprocessor' in cfg and 'data_preprocessor' not in mcfg:
        mcfg['data_preprocessor'] = cfg.data_preprocessor
    model = MODELS.build(mcfg)
    model.init_weights()
    model.train()
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    data = {'inputs': torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8),
            'data_samples': [DataSample().set_gt_label(i % 1000) for i in range(batch)]}
    out = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        model.train_step(data, ow)
        if i >= warmup:
            out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--img-size', type=int, default=224)
    ap.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
    ap.add_argument('--iters', type=int, default=2, help='timed iterations per configuration per round')
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--models', default='resnet50,deit_s')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--mmpretrain-python', help='a Python with MMPretrain installed (separate venv): adds its '
                                                'default fp32 training step as a row, timed in a subprocess')
    ap.add_argument('--mmpretrain-worker', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.mmpretrain_worker:  # we are the subprocess: time MMPretrain and print JSON
        import json
        print(json.dumps(mmpretrain_times(args.mmpretrain_worker, args.batch, args.img_size, args.warmup,
                                          args.rounds * args.iters, args.threads or torch.get_num_threads())))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    specs = {
        'resnet50': ('resnet50_8xb32_in1k', 'resnet50', 'cnn', None),
        'deit_s': ('deit-small_4xb256_in1k', 'deit_small_patch16_224', 'vit', 5.0),
    }
    print(f'torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, batch {args.batch}, '
          f'{args.img_size} px; timings on a shared machine are noisy.')
    for key in args.models.split(','):
        cfg_name, timm_name, kind, clip = specs[key]
        torch.manual_seed(0)
        runs = {
            'fovea default': fovea_step(cfg_name, args.batch, args.img_size, args.device),
            'timm default': timm_step(timm_name, kind, args.batch, args.img_size, args.device, False, clip),
            'timm matched': timm_step(timm_name, kind, args.batch, args.img_size, args.device, True, clip),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for k, (step, _) in runs.items():
            for _ in range(args.warmup):
                step()
        for _ in range(args.rounds):
            for k, (step, _) in runs.items():
                for _ in range(args.iters):
                    if args.device == 'cuda':
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    step()
                    if args.device == 'cuda':
                        torch.cuda.synchronize()
                    times[k].append(time.perf_counter() - t)
        if args.mmpretrain_python:
            import json
            import subprocess
            import sys
            proc = subprocess.run([args.mmpretrain_python, __file__, '--mmpretrain-worker', cfg_name,
                                   '--batch', str(args.batch), '--img-size', str(args.img_size),
                                   '--rounds', str(args.rounds), '--iters', str(args.iters),
                                   '--warmup', str(args.warmup), '--threads', str(torch.get_num_threads())],
                                  capture_output=True, text=True, env={'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1',
                                                                       'PATH': '/usr/bin:/bin'})
            if proc.returncode:
                print(f'mmpretrain row skipped: {proc.stderr.strip().splitlines()[-1:]}', file=sys.stderr)
            else:
                times['mmpretrain default'] = json.loads(proc.stdout.strip().splitlines()[-1])
                runs['mmpretrain default'] = (None, 'fp32, NCHW, mmengine OptimWrapper (subprocess, not interleaved)')
        fovea_ips = args.batch / statistics.median(times['fovea default'])
        print(f'\n{key} ({cfg_name} vs timm {timm_name})')
        print(f'| setting | settings | s/iter (median) | images/s | fovea / this |')
        print(f'|---|---|---|---|---|')
        for k, (_, desc) in runs.items():
            med = statistics.median(times[k])
            ips = args.batch / med
            print(f'| {k} | {desc} | {med:.3f} | {ips:.1f} | {fovea_ips / ips:.2f}x |', flush=True)


if __name__ == '__main__':
    main()

"""Images/second of fovea's vision transformers against timm's, at equal settings, in one run.

Cases: DeiT-S/16 and Swin-T at 224px (ImageNet heads, 1000 classes). For each case and precision
(fp32, and bf16 autocast where the device runs it natively), measures

* inference: ``model(x)`` under ``torch.inference_mode``;
* train step: forward + cross-entropy + backward + AdamW step;

for fovea's model (built from the same arch as MMPretrain's config) and timm's, with the same batch,
input, optimiser and drop-path rate, and prints fovea/timm ratios (> 1 means fovea is faster).
Both sides are timed in alternation (fovea, timm, fovea, ...) for ``--rounds`` rounds and the best
round of each is compared, so load changes on a shared machine hit both.

    python benchmarks/model_speed_vit.py                     # GPU if there is one, else CPU
    python benchmarks/model_speed_vit.py --device cpu --batch 8 --iters 3
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

CASES = {
    'DeiT-S': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='VisionTransformer', arch='deit-small', img_size=224, patch_size=16,
                                 drop_path_rate=0.1),
                   head=dict(type='VisionTransformerClsHead', num_classes=1000, in_channels=384)),
        timm=('deit_small_patch16_224', dict(drop_path_rate=0.1))),
    'Swin-T': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='SwinTransformer', arch='tiny', img_size=224, drop_path_rate=0.2),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=768)),
        timm=('swin_tiny_patch4_window7_224', dict(drop_path_rate=0.2))),
}


def build(case: dict, which: str, device: torch.device) -> torch.nn.Module:
    if which == 'fovea':
        from fovea.registry import MODELS
        model = MODELS.build(case['fovea'])
        model.init_weights()
        return _Tensor(model).to(device)
    import timm
    name, kwargs = case['timm']
    return timm.create_model(name, **kwargs).to(device)


class _Tensor(torch.nn.Module):
    """fovea classifiers' ``mode='tensor'`` forward as a plain module (logits from images)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_it(fn, iters: int, device: torch.device) -> float:
    fn()  # warm-up (kernel selection, allocator)
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def make_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = (lambda: torch.autocast(x.device.type, dtype=dtype)) if dtype else None

    def infer():
        model.eval()
        with torch.inference_mode():
            if autocast:
                with autocast():
                    model(x)
            else:
                model(x)

    def train():
        model.train()
        opt.zero_grad(set_to_none=True)
        if autocast:
            with autocast():
                loss = F.cross_entropy(model(x).float(), y)
        else:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return infer, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, default=None, help='default 64 on GPU, 8 on CPU')
    parser.add_argument('--iters', type=int, default=None, help='timed iterations per round (20 GPU / 3 CPU)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--cases', nargs='*', default=list(CASES))
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == 'cuda'
    batch = args.batch or (64 if gpu else 8)
    iters = args.iters or (20 if gpu else 3)
    precisions = {'fp32': None}
    if (gpu and torch.cuda.is_bf16_supported()) or not gpu:
        precisions['bf16'] = torch.bfloat16
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    print(f'device={device} batch={batch} iters={iters} rounds={args.rounds} torch={torch.__version__}')
    print(f'{"case":8s} {"precision":9s} {"mode":6s} {"fovea img/s":>12s} {"timm img/s":>12s} {"ratio":>7s}')
    for name in args.cases:
        case = CASES[name]
        torch.manual_seed(0)
        x = torch.randn(batch, 3, 224, 224, device=device)
        y = torch.randint(0, 1000, (batch,), device=device)
        models = {which: build(case, which, device) for which in ('fovea', 'timm')}
        for prec, dtype in precisions.items():
            steps = {which: make_steps(m, x, y, dtype) for which, m in models.items()}
            for mode, idx in (('infer', 0), ('train', 1)):
                best = {'fovea': float('inf'), 'timm': float('inf')}
                for _ in range(args.rounds):
                    for which in ('fovea', 'timm'):
                        best[which] = min(best[which], time_it(steps[which][idx], iters, device))
                f, t = batch / best['fovea'], batch / best['timm']
                print(f'{name:8s} {prec:9s} {mode:6s} {f:12.1f} {t:12.1f} {f / t:7.2f}', flush=True)
        del models
        if gpu:
            torch.cuda.empty_cache()


if __name__ == '__main__':
    main()

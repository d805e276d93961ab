"""Images/second of fovea's models against timm's same architectures, at equal settings, in one run.

Cases (``CASES``): ResNet-50, MobileNetV3-Large, ConvNeXt-T, DeiT-S/16, Swin-T, MobileOne-S1 and EfficientNetV2-S
at 224px, Swin V2-T at 256 px, with ImageNet heads. For each case and precision, it measures

* inference: ``model(x)`` under ``torch.inference_mode``;
* train step: forward + cross-entropy + backward + SGD (momentum) step;

for fovea's model (built through the registry from the same config as MMPretrain's) and timm's, with
the same batch, input, optimiser, dropout and drop-path rate, and prints fovea/timm ratios (> 1 means
fovea is faster). Precisions: ``fp32`` (NCHW, TF32 off) and ``bf16`` (autocast, both models and the
input in channels_last; CPU autocast too when run on CPU). Both sides are timed in alternation
(fovea, timm, fovea, ...) for ``--rounds`` rounds and the best round of each is compared, so load
changes on a shared machine hit both; numbers on a shared machine stay noisy (run it twice).

    python benchmarks/model_speed.py                          # GPU if there is one, else CPU
    python benchmarks/model_speed.py --device cpu --batch 8 --iters 2 --cases MobileNetV3-L

To add a case, append ``name: dict(fovea=<model config>, timm=(<timm name>, <create_model kwargs>))`` (and
``size=<px>`` for another input size than 224).
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

CASES = {
    'ResNet-50': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='ResNet', depth=50),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048)),
        timm=('resnet50', dict())),
    'MobileNetV3-L': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='MobileNetV3', arch='large'),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='StackedLinearClsHead', num_classes=1000, in_channels=960, mid_channels=[1280],
                             dropout_rate=0.2, act_cfg=dict(type='HSwish'))),
        timm=('mobilenetv3_large_100', dict(drop_rate=0.2))),
    'ConvNeXt-T': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='ConvNeXt', arch='tiny', drop_path_rate=0.1),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=768)),
        timm=('convnext_tiny', dict(drop_path_rate=0.1))),
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
    'MobileOne-S1': dict(  # the training form (branches unfolded), as both train it
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='MobileOne', arch='s1'),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280)),
        timm=('mobileone_s1', dict())),
    # TensorFlow 'SAME' padding on the stem, head and stride-2 convs in both (MMPretrain's weights are timm's tf_ ones)
    'EfficientNetV2-S': dict(
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='EfficientNetV2', arch='s', drop_path_rate=0.2),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280)),
        timm=('tf_efficientnetv2_s', dict(drop_path_rate=0.2))),
    'SwinV2-T': dict(  # window 8 at 256 px, both
        fovea=dict(type='ImageClassifier',
                   backbone=dict(type='SwinTransformerV2', arch='tiny', img_size=256, drop_path_rate=0.2),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=768)),
        timm=('swinv2_tiny_window8_256', dict(drop_path_rate=0.2)), size=256),
}


class _Tensor(torch.nn.Module):
    """A fovea classifier's ``mode='tensor'`` forward as a plain module (logits from images)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def build(case: dict, which: str) -> torch.nn.Module:
    if which == 'fovea':
        from fovea.apis.model import build_model_from_cfg
        return _Tensor(build_model_from_cfg(case['fovea']))
    import timm
    name, kwargs = case['timm']
    return timm.create_model(name, pretrained=False, **kwargs)


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_it(fn, iters: int, device: torch.device) -> float:
    fn()  # warm-up: kernel selection, allocator
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def make_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def forward():
        if dtype is None:
            return model(x)
        with torch.autocast(x.device.type, dtype=dtype):
            return model(x)

    def infer():
        model.eval()
        with torch.inference_mode():
            forward()

    def train():
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(forward().float(), y).backward()
        opt.step()

    return infer, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch', type=int, default=None, help='default 128 on GPU, 8 on CPU')
    parser.add_argument('--iters', type=int, default=None, help='timed iterations per round (20 GPU / 2 CPU)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--cases', nargs='*', default=list(CASES), choices=list(CASES))
    parser.add_argument('--precisions', nargs='*', default=['fp32', 'bf16'], choices=['fp32', 'bf16'])
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == 'cuda'
    batch = args.batch or (128 if gpu else 8)
    iters = args.iters or (20 if gpu else 2)
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    print(f'device={device} batch={batch} iters={iters} rounds={args.rounds} torch={torch.__version__}')
    print(f'{"case":14s} {"precision":16s} {"mode":6s} {"fovea img/s":>12s} {"timm img/s":>12s} {"ratio":>7s}')
    ratios = []
    for name in args.cases:
        case = CASES[name]
        torch.manual_seed(0)
        try:
            models = {which: build(case, which).to(device) for which in ('fovea', 'timm')}
        except Exception as exc:  # e.g. a backbone another engineer has not registered yet
            print(f'{name:14s} skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}')
            continue
        size = case.get('size', 224)
        x = torch.randn(batch, 3, size, size, device=device)
        y = torch.randint(0, 1000, (batch,), device=device)
        for prec in args.precisions:
            dtype = torch.bfloat16 if prec == 'bf16' else None
            fmt = torch.channels_last if prec == 'bf16' else torch.contiguous_format
            xs = x.contiguous(memory_format=fmt)
            for m in models.values():
                m.to(memory_format=fmt)
            steps = {which: make_steps(m, xs, y, dtype) for which, m in models.items()}
            label = 'bf16+ch_last' if prec == 'bf16' else 'fp32'
            for mode, idx in (('infer', 0), ('train', 1)):
                best = {'fovea': float('inf'), 'timm': float('inf')}
                for _ in range(args.rounds):
                    for which in ('fovea', 'timm'):
                        best[which] = min(best[which], time_it(steps[which][idx], iters, device))
                f, t = batch / best['fovea'], batch / best['timm']
                ratios.append(f / t)
                print(f'{name:14s} {label:16s} {mode:6s} {f:12.1f} {t:12.1f} {f / t:7.2f}', flush=True)
        del models
        if gpu:
            torch.cuda.empty_cache()
    if ratios:
        geo = torch.tensor(ratios).log().mean().exp().item()
        print(f'geometric mean fovea/timm ratio over {len(ratios)} measurements: {geo:.2f}')


if __name__ == '__main__':
    main()

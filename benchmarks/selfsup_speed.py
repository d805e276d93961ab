"""Self-supervised training speed: one SimCLR step (ResNet-18) and one MAE step (ViT) of fovea against
lightly 1.6 at matched settings, with fovea's defaults beside them. lightly is a benchmark-only
dependency (``pip install "lightly==1.6.*"``); fovea never imports it.

A step is the whole training iteration: uint8 views -> normalised floats, forward, loss, backward,
optimizer step, zero_grad. Rows per algorithm:

* ``fovea matched``   - fovea's model (``SimCLR``: ``ResNet`` depth 18, ``NonLinearNeck`` 512-2048-128
  without biases, BN after both layers, ``ContrastiveHead`` temperature 0.1; ``MAE``: ``MAEViT`` mask
  ratio 0.75, ``MAEPretrainDecoder`` 512 wide and 8 deep, pixel L2 on the masked patches without
  norm_pix) stepped through ``model.train_step``, fp32, NCHW.
* ``lightly``         - lightly 1.6's modules as its examples use them (torchvision ``resnet18`` without
  ``fc`` + ``SimCLRProjectionHead(512, 2048, 128)`` + ``NTXentLoss(0.1)``; timm ``VisionTransformer`` in
  ``MaskedVisionTransformerTIMM`` + ``MAEDecoderTIMM`` + MSE on the masked patches), fp32, NCHW,
  the same optimizer (SGD for SimCLR, AdamW for MAE).
* ``fovea default``   - fovea with the Runner's defaults: precision 'auto' (bf16 autocast where the device
  runs bf16 natively) and channels_last for the CNN.
* ``lightly + fovea's settings`` - lightly with the same bf16 autocast / channels_last.

Configurations are timed in interleaved rounds (so drifting load affects them alike); the median step
time is reported, with ``lightly / this`` ratios (above 1: faster than lightly's fp32 step).

    python benchmarks/selfsup_speed.py                                   # SimCLR 32 x 224 px, MAE ViT-B/16 16 x 224 px
    python benchmarks/selfsup_speed.py --batch 4 --img-size 64 --mae-arch tiny --mae-batch 4 \\
        --mae-img-size 32 --mae-patch 4 --rounds 1 --iters 1 --warmup 1   # a smoke run
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import torch
from torch import nn

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
VIT_ARCHS = {'tiny': (192, 12, 3), 'small': (384, 12, 6), 'base': (768, 12, 12)}   # width, depth, heads
SIMCLR_OPTIM = dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4)
MAE_OPTIM = dict(type='AdamW', lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)


def _autocast(device: str, precision: str):
    return (lambda: torch.autocast(device, dtype=torch.bfloat16)) if precision == 'bf16' else contextlib.nullcontext


def _fovea_step(model_cfg: dict, optim: dict, inputs, device: str, defaults: bool):
    from fovea.engine.optim_constructor import build_optim_wrapper
    from fovea.engine.optim_wrapper import resolve_precision
    from fovea.registry import MODELS
    model = MODELS.build(dict(model_cfg, data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=MEAN.flatten().tolist(),
                                                                 std=STD.flatten().tolist())))
    model.init_weights()
    model.to(device).train()
    precision = resolve_precision('auto', device) if defaults else 'fp32'
    cl = defaults and bool(getattr(model.backbone, 'prefers_channels_last', False))
    if cl:
        model.to(memory_format=torch.channels_last)
        model.data_preprocessor.channels_last = True
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(optim)), precision, device)
    data = {'inputs': inputs, 'data_samples': None}

    def step():
        model.train_step(data, wrapper)
    return step, f'{precision}, channels_last={cl}, {_params(model)}'


def _params(model: nn.Module) -> str:
    """Trainable parameters (momentum copies and buffers excluded): the matched rows must agree."""
    return f'{sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6:.2f} M params'


def _normalise(x_u8: torch.Tensor, device: str, cl: bool) -> torch.Tensor:
    x = (x_u8.to(device).float() - MEAN.to(device)) / STD.to(device)
    return x.contiguous(memory_format=torch.channels_last) if cl else x


def fovea_simclr(views, device, defaults):
    proj = dict(type='NonLinearNeck', in_channels=512, hid_channels=2048, out_channels=128, num_layers=2,
                with_bias=False, with_last_bn=True, norm_cfg=dict(type='BN1d'))
    cfg = dict(type='SimCLR', backbone=dict(type='ResNet', depth=18), neck=proj,
               head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1))
    return _fovea_step(cfg, SIMCLR_OPTIM, views, device, defaults)


def lightly_simclr(views, device, fovea_settings):
    import torchvision
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    from fovea.engine.optim_wrapper import resolve_precision
    backbone = torchvision.models.resnet18()
    backbone.fc = nn.Identity()
    model = nn.Sequential(backbone, SimCLRProjectionHead(512, 2048, 128)).to(device).train()
    precision = resolve_precision('auto', device) if fovea_settings else 'fp32'
    cl = fovea_settings
    if cl:
        model.to(memory_format=torch.channels_last)
    criterion = NTXentLoss(temperature=0.1)
    opt_cfg = dict(SIMCLR_OPTIM)
    opt_cfg.pop('type')
    opt = torch.optim.SGD(model.parameters(), **opt_cfg)
    ctx = _autocast(device, precision)

    def step():
        x0, x1 = (_normalise(v, device, cl) for v in views)
        with ctx():
            loss = criterion(model(x0), model(x1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, f'{precision}, channels_last={cl}, {_params(model)}'


def fovea_mae(images, device, defaults, arch, img_size, patch):
    width = VIT_ARCHS[arch][0]
    cfg = dict(type='MAE', backbone=dict(type='MAEViT', arch=arch, img_size=img_size, patch_size=patch, mask_ratio=0.75),
               neck=dict(type='MAEPretrainDecoder', num_patches=(img_size // patch) ** 2, patch_size=patch,
                         embed_dim=width, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16),
               head=dict(type='MAEPretrainHead', norm_pix=False, patch_size=patch,
                         loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    return _fovea_step(cfg, MAE_OPTIM, images, device, defaults)


def lightly_mae(images, device, fovea_settings, arch, img_size, patch):
    from lightly.models import utils
    from lightly.models.modules import MaskedVisionTransformerTIMM
    from lightly.models.modules.masked_autoencoder_timm import MAEDecoderTIMM
    from timm.models.vision_transformer import VisionTransformer

    from fovea.engine.optim_wrapper import resolve_precision
    width, depth, heads = VIT_ARCHS[arch]
    vit = VisionTransformer(img_size=img_size, patch_size=patch, embed_dim=width, depth=depth, num_heads=heads,
                            num_classes=0)
    encoder = MaskedVisionTransformerTIMM(vit=vit)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')          # deprecated in 1.6 (removed in 1.7); what lightly's MAE example uses
        decoder = MAEDecoderTIMM(num_patches=vit.patch_embed.num_patches, patch_size=patch, embed_dim=width,
                                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16)
    model = nn.ModuleDict(dict(encoder=encoder, decoder=decoder)).to(device).train()
    precision = resolve_precision('auto', device) if fovea_settings else 'fp32'
    opt_cfg = dict(MAE_OPTIM)
    opt_cfg.pop('type')
    opt = torch.optim.AdamW(model.parameters(), **opt_cfg)
    ctx = _autocast(device, precision)
    seq_len = encoder.sequence_length

    def step():
        x = _normalise(images, device, False)
        b = len(x)
        with ctx():
            idx_keep, idx_mask = utils.random_token_mask(size=(b, seq_len), mask_ratio=0.75, device=x.device)
            latent = encoder.encode(images=x, idx_keep=idx_keep)
            tokens = decoder.embed(latent)
            full = utils.repeat_token(decoder.mask_token, (b, seq_len))
            full = utils.set_at_index(full, idx_keep, tokens.type_as(full))
            pred = decoder.predict(utils.get_at_index(decoder.decode(full), idx_mask))
            target = utils.get_at_index(utils.patchify(x, patch), idx_mask - 1)
            loss = nn.functional.mse_loss(pred.float(), target)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step, f'{precision}, channels_last=False, {_params(model)}'


def time_rows(runs: dict, rounds: int, iters: int, warmup: int, device: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in runs}
    for step, _ in runs.values():
        for _ in range(warmup):
            step()
    for _ in range(rounds):
        for k, (step, _) in runs.items():
            for _ in range(iters):
                if device == 'cuda':
                    torch.cuda.synchronize()
                t = time.perf_counter()
                step()
                if device == 'cuda':
                    torch.cuda.synchronize()
                times[k].append(time.perf_counter() - t)
    return times


def report(title: str, runs: dict, times: dict, batch: int) -> None:
    ref = statistics.median(times['lightly'])
    print(f'\n{title}')
    print('| row | settings | s/step (median) | images/s | lightly / this |')
    print('|---|---|---|---|---|')
    for k, (_, desc) in runs.items():
        med = statistics.median(times[k])
        print(f'| {k} | {desc} | {med:.4f} | {batch / med:.1f} | {ref / med:.2f}x |', flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=32, help='SimCLR images per step (two views each)')
    ap.add_argument('--img-size', type=int, default=224, help='SimCLR view size')
    ap.add_argument('--mae-batch', type=int, default=16)
    ap.add_argument('--mae-img-size', type=int, default=224)
    ap.add_argument('--mae-arch', default='base', choices=sorted(VIT_ARCHS))
    ap.add_argument('--mae-patch', type=int, default=16)
    ap.add_argument('--algorithms', default='simclr,mae')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
    ap.add_argument('--iters', type=int, default=2, help='timed steps per row per round')
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = ap.parse_args()
    try:
        import lightly
    except ImportError:
        raise SystemExit('lightly is not installed: pip install "lightly==1.6.*" (benchmark-only dependency)')
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, lightly {lightly.__version__}, device {args.device}, '
          f'threads {torch.get_num_threads()}; timings on a shared machine are noisy.')
    g = torch.Generator().manual_seed(0)
    for algo in args.algorithms.split(','):
        torch.manual_seed(0)
        if algo == 'simclr':
            views = [torch.randint(0, 256, (args.batch, 3, args.img_size, args.img_size), dtype=torch.uint8, generator=g)
                     for _ in range(2)]
            runs = {'fovea matched': fovea_simclr(views, args.device, False),
                    'lightly': lightly_simclr(views, args.device, False),
                    'fovea default': fovea_simclr(views, args.device, True),
                    "lightly + fovea's settings": lightly_simclr(views, args.device, True)}
            title = f'SimCLR, ResNet-18, {args.batch} images x 2 views, {args.img_size} px'
            batch = args.batch
        elif algo == 'mae':
            size, patch, arch = args.mae_img_size, args.mae_patch, args.mae_arch
            images = torch.randint(0, 256, (args.mae_batch, 3, size, size), dtype=torch.uint8, generator=g)
            runs = {'fovea matched': fovea_mae(images, args.device, False, arch, size, patch),
                    'lightly': lightly_mae(images, args.device, False, arch, size, patch),
                    'fovea default': fovea_mae(images, args.device, True, arch, size, patch),
                    "lightly + fovea's settings": lightly_mae(images, args.device, True, arch, size, patch)}
            title = f'MAE, ViT-{arch}/{patch}, decoder 512 x 8, {args.mae_batch} images, {size} px'
            batch = args.mae_batch
        else:
            raise SystemExit(f'unknown algorithm {algo!r}: simclr, mae')
        report(title, runs, time_rows(runs, args.rounds, args.iters, args.warmup, args.device), batch)


if __name__ == '__main__':
    main()

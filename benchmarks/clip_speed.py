"""CLIP training step: fovea against open_clip at matched settings (same architecture, batch, optimizer,
precision, threads), random weights and data.

Each step tokenizes the batch's captions (open_clip's tokenizer / fovea's, as their data paths do), runs
forward, the contrastive loss, backward and an AdamW step. Reported: median seconds per step after
warm-up and fovea's speed-up (open_clip time / fovea time; goal >= 1.0).

    python benchmarks/clip_speed.py --arch ViT-B-32 --batch-size 64 --steps 10 --threads 2
    python benchmarks/clip_speed.py --tiny --steps 3  # smoke

Needs open_clip_torch (`pip install open_clip_torch`). Run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

TINY = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=4, width=128, patch_size=8, head_width=32),
            text_cfg=dict(context_length=77, vocab_size=49408, width=128, heads=4, layers=3))


def captions(n: int, step: int) -> list[str]:
    words = ['cat', 'dog', 'boat', 'red car', 'small bird', 'a tall tree', 'two horses']
    return [f'a photo of a {words[(i + step) % len(words)]} number {i}.' for i in range(n)]


def time_steps(step_fn, steps: int, warmup: int) -> float:
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step_fn(i)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--arch', default='ViT-B-32', help="an open_clip architecture name (ViT-B-32, RN50, ...)")
    p.add_argument('--tiny', action='store_true', help='a tiny ViT CLIP at 64 px instead of --arch')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--bf16', action='store_true', help='bf16 autocast for both')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import open_clip
    from open_clip.model import CLIP as OpenCLIP

    from fovea.apis.model import build_model_from_cfg
    from fovea.models.multimodal.clip.archs import CLIP_ARCHS, clip_model_cfg
    from fovea.structures import DataSample
    arch = TINY if args.tiny else CLIP_ARCHS[args.arch]
    size = arch['vision_cfg']['image_size']
    torch.manual_seed(0)
    ref = OpenCLIP(**arch).train()
    ours = build_model_from_cfg(clip_model_cfg(arch)).train()
    tokenizer = open_clip.get_tokenizer('ViT-B-32')
    ref_loss = open_clip.ClipLoss()
    images = torch.randn(args.batch_size, 3, size, size)
    ctx = (lambda: torch.autocast('cpu', dtype=torch.bfloat16)) if args.bf16 else torch.enable_grad

    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-4)

    def ref_step(i):
        tokens = tokenizer(captions(args.batch_size, i))
        with ctx():
            img = F.normalize(ref.encode_image(images), dim=-1)
            txt = F.normalize(ref.encode_text(tokens), dim=-1)
            loss = ref_loss(img, txt, ref.logit_scale.exp())
        ref_opt.zero_grad(set_to_none=True)
        loss.backward()
        ref_opt.step()

    our_opt = torch.optim.AdamW(ours.parameters(), lr=1e-4)

    def our_step(i):
        samples = [DataSample(text=t) for t in captions(args.batch_size, i)]
        with ctx():
            loss = ours.loss(images, samples)['loss']
        our_opt.zero_grad(set_to_none=True)
        loss.backward()
        our_opt.step()
        ours.after_optimizer_step(i + 1)

    t_ref = time_steps(ref_step, args.steps, args.warmup)
    t_ours = time_steps(our_step, args.steps, args.warmup)
    result = {'arch': 'tiny' if args.tiny else args.arch, 'batch_size': args.batch_size, 'threads': args.threads,
              'bf16': args.bf16, 'open_clip_s_per_step': round(t_ref, 4), 'fovea_s_per_step': round(t_ours, 4),
              'fovea_speedup': round(t_ref / t_ours, 3)}
    print('RESULT clip_speed ' + json.dumps(result))


if __name__ == '__main__':
    main()

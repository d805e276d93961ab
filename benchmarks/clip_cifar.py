"""Contrastive language-image training on real images: a small CLIP learns CIFAR-10 from captions alone.

The 50,000 CIFAR-10 training JPEGs are paired with captions written from training templates and class
synonyms ("a picture of a kitten.", "a blurry shot of the lorry."); no label is used otherwise. A small
CLIP (a ViT image tower, a 3-layer text transformer, the real CLIP BPE tokenizer) trains through
``CLIP.loss`` for ``--minutes`` (time-based warmup + cosine learning rate). Then, on the 10,000 test
images:

* zero-shot top-1: class prototypes from *held-out* templates (OpenAI's CIFAR templates, none of
  which is used in training) with the canonical class names; chance is 10%;
* image-to-text R@1: for 1,000 test images and one held-out caption each, the share of images whose
  best-matching caption names the image's class.

    python benchmarks/clip_cifar.py --data /tmp/data/cifar10 --minutes 15 --threads 2
    python benchmarks/clip_cifar.py --data /tmp/data/cifar10 --minutes 0.5 --train-subset 2000 --tiny  # smoke

Run it on a quiet machine and say so with the numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
SYNONYMS = {
    'airplane': ['airplane', 'plane', 'aeroplane', 'jet', 'aircraft', 'airliner'],
    'automobile': ['automobile', 'car', 'sedan', 'motor car', 'auto'],
    'bird': ['bird', 'sparrow', 'songbird', 'finch', 'ostrich'],
    'cat': ['cat', 'kitten', 'kitty', 'house cat', 'tabby'],
    'deer': ['deer', 'doe', 'stag', 'fawn', 'elk'],
    'dog': ['dog', 'puppy', 'hound', 'pup', 'terrier'],
    'frog': ['frog', 'toad', 'tree frog', 'bullfrog'],
    'horse': ['horse', 'pony', 'stallion', 'mare', 'foal'],
    'ship': ['ship', 'boat', 'vessel', 'cargo ship', 'ocean liner'],
    'truck': ['truck', 'lorry', 'dump truck', 'fire truck', 'pickup truck'],
}
TRAIN_TEMPLATES = [
    '{}', 'a {}.', 'a picture of a {}.', 'an image of the {}.', 'a snapshot of a {}.', 'a {} in the picture.',
    'there is a {} here.', 'a close shot of the {}.', 'my {}.', 'a nice {}.', 'a small picture of a {}.',
    'look at this {}!', 'a pixelated {}.', 'a cropped image of a {}.', 'this is a {}.', 'a {}, outdoors.',
]
# OpenAI's CIFAR templates (fovea.data.text.prompts.OPENAI_CIFAR_TEMPLATES): none is a training template


def load_split(root: Path, split: str, subset: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a split as one uint8 (N, 3, 32, 32) tensor, and their labels."""
    from torchvision.io import ImageReadMode, decode_image, read_file
    files = [(p, c) for c, name in enumerate(CLASSES) for p in sorted((root / split / name).glob('*.jpg'))]
    if subset:
        step = max(1, len(files) // subset)
        files = files[::step][:subset]
    images = torch.stack([decode_image(read_file(str(p)), ImageReadMode.RGB) for p, _ in files])
    return images, torch.tensor([c for _, c in files])


def build_model(tiny: bool, dims: int = 128, layers: int = 4):
    from fovea.apis.model import build_model_from_cfg
    dims, layers, heads, width = (64, 2, 2, 64) if tiny else (dims, layers, dims // 32, 128)
    return build_model_from_cfg(dict(
        type='CLIP',
        vision_backbone=dict(type='VisionTransformer', img_size=32, patch_size=4, pre_norm=True,
                             arch=dict(embed_dims=dims, num_layers=layers, num_heads=heads,
                                       feedforward_channels=4 * dims), norm_cfg=dict(type='LN', eps=1e-5)),
        projection=dict(type='CLIPProjection', in_channels=dims, out_channels=128),
        text_backbone=dict(type='CLIPTransformer', width=width, layers=3, heads=2, act_cfg=dict(type='GELU')),
        transformer_width=width, proj_dim=128, context_length=24,
        data_preprocessor=dict(mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7])))


def augment(batch: torch.Tensor) -> torch.Tensor:
    """Random crop (4-pixel padding) and horizontal flip of a uint8 batch."""
    n = batch.shape[0]
    padded = F.pad(batch, (4, 4, 4, 4), mode='reflect' if batch.is_floating_point() else 'constant')
    ys, xs = torch.randint(0, 9, (n,)), torch.randint(0, 9, (n,))
    out = torch.stack([padded[i, :, ys[i]:ys[i] + 32, xs[i]:xs[i] + 32] for i in range(n)])
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def caption(label: int, rng: random.Random) -> str:
    return rng.choice(TRAIN_TEMPLATES).format(rng.choice(SYNONYMS[CLASSES[label]]))


@torch.no_grad()
def image_features(model, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    out = []
    for i in range(0, len(images), batch):
        x = model.data_preprocessor({'inputs': images[i:i + batch]}, False)['inputs']
        out.append(F.normalize(model.extract_image_feat(x), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> dict:
    from fovea.data.text.prompts import OPENAI_CIFAR_TEMPLATES
    from fovea.evaluation.retrieval import RetrievalRecall
    assert not set(OPENAI_CIFAR_TEMPLATES) & set(TRAIN_TEMPLATES)
    model.eval()
    feats = image_features(model, images)
    protos = model.class_embeddings(list(CLASSES), list(OPENAI_CIFAR_TEMPLATES))
    top1 = float((feats @ protos.T).argmax(1).eq(labels).float().mean() * 100)
    rng = random.Random(seed)
    idx = torch.tensor(sorted(rng.sample(range(len(images)), min(1000, len(images)))))
    texts = [rng.choice(OPENAI_CIFAR_TEMPLATES).format(CLASSES[int(labels[i])]) for i in idx]
    text_feats = F.normalize(model.extract_text_feat(texts), dim=-1)
    sub = labels[idx]
    relevant = sub[:, None] == sub[None, :]
    i2t = RetrievalRecall.calculate(feats[idx] @ text_feats.T, relevant, topk=(1, 5))
    model.train()
    return {'zero_shot_top1': round(top1, 2), 'i2t_R@1': round(i2t[0], 2), 'i2t_R@5': round(i2t[1], 2)}


def load_splits(root: Path, train_subset: int | None, test_subset: int | None):
    """(train images, train labels, test images, test labels), with a line saying how long loading took."""
    t0 = time.time()
    train_x, train_y = load_split(root, 'train', train_subset)
    test_x, test_y = load_split(root, 'test', test_subset)
    print(f'loaded {len(train_x)} train / {len(test_x)} test images in {time.time() - t0:.0f}s')
    return train_x, train_y, test_x, test_y


def adamw(model, lr: float, weight_decay: float, **kwargs) -> torch.optim.AdamW:
    """AdamW without weight decay on biases, norms and embeddings."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'embedding' not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or 'embedding' in n]
    return torch.optim.AdamW([dict(params=decay, weight_decay=weight_decay), dict(params=no_decay, weight_decay=0.0)],
                             lr=lr, **kwargs)


def warmup_cosine(frac: float, lr: float, warm: float = 0.05) -> float:
    """The learning rate at ``frac`` of the time budget: linear warmup over ``warm``, then cosine to 0."""
    return lr * (frac / warm if frac < warm else 0.5 * (1 + math.cos(math.pi * (frac - warm) / (1 - warm))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default='/tmp/data/cifar10', help='folder with train/<class>/*.jpg and test/<class>/*.jpg')
    p.add_argument('--minutes', type=float, default=15.0, help='training budget (wall clock, after loading)')
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--train-subset', type=int, default=None, help='use this many training images (smoke runs)')
    p.add_argument('--test-subset', type=int, default=None)
    p.add_argument('--tiny', action='store_true', help='a much smaller model (smoke runs)')
    p.add_argument('--width', type=int, default=128, help='image tower width (heads = width / 32)')
    p.add_argument('--depth', type=int, default=4, help='image tower layers')
    p.add_argument('--bf16', action='store_true', help='bf16 autocast')
    p.add_argument('--out', help='write the results as JSON here')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    train_x, train_y, test_x, test_y = load_splits(Path(args.data), args.train_subset, args.test_subset)

    from fovea.structures import DataSample
    model = build_model(args.tiny, args.width, args.depth).train()
    params = sum(p.numel() for p in model.parameters())
    before = evaluate(model, test_x, test_y)
    print(f'{params / 1e6:.2f}M parameters; at initialisation: {before}')
    opt = adamw(model, args.lr, 0.1, betas=(0.9, 0.98), eps=1e-6)
    budget = args.minutes * 60
    start, step, losses = time.time(), 0, []
    while (elapsed := time.time() - start) < budget:
        lr = warmup_cosine(elapsed / budget, args.lr)
        for g in opt.param_groups:
            g['lr'] = lr
        idx = torch.randint(0, len(train_x), (args.batch_size,))
        samples = [DataSample(text=caption(int(train_y[i]), rng)) for i in idx]
        data = model.data_preprocessor({'inputs': augment(train_x[idx]), 'data_samples': samples}, True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=args.bf16):
            loss = model.loss(data['inputs'], data['data_samples'])['loss']
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.after_optimizer_step(step + 1)
        step += 1
        losses.append(loss.item())
        if step % 50 == 0 or step == 1:
            print(f'step {step}  {elapsed / 60:.1f} min  lr {lr:.2e}  loss {sum(losses[-50:]) / len(losses[-50:]):.3f}  '
                  f'logit_scale {model.logit_scale.exp().item():.1f}', flush=True)
    train_s = time.time() - start
    after = evaluate(model, test_x, test_y)
    result = {'image_tower': 'tiny' if args.tiny else f'ViT {args.depth}x{args.width}, patch 4', 'steps': step, 'train_minutes': round(train_s / 60, 2), 'batch_size': args.batch_size,
              'images_per_s': round(step * args.batch_size / train_s, 1), 'params_M': round(params / 1e6, 2),
              'threads': args.threads, 'final_loss': round(sum(losses[-50:]) / max(1, len(losses[-50:])), 3),
              'init': before, **after}
    print('RESULT clip_cifar ' + json.dumps(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()

"""Shared by the pretext-task tests: a batch through a real pipeline and a few SGD steps on it."""
from __future__ import annotations

import numpy as np
import torch

from fovea.data.collate import default_collate
from fovea.data.transforms.base import Compose
from fovea.registry import MODELS, build

BACKBONE = dict(type='ResNet_CIFAR', depth=18, base_channels=8)     # 64-wide output


def images(n: int, size: int = 32, seed: int = 0) -> list[torch.Tensor]:
    """``n`` random uint8 (3, size, size) images with some spatial structure (smoothed noise)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randint(0, 256, (n, 3, size // 4, size // 4), generator=g).float()
    return list(torch.nn.functional.interpolate(low, size=size, mode='bilinear').to(torch.uint8))


def run_pipeline(pipeline: list[dict], imgs: list[torch.Tensor], seed: int = 0) -> list[dict]:
    np.random.seed(seed)
    compose = Compose(pipeline)
    return [compose({'img': img, 'img_shape': tuple(img.shape[-2:]), 'mmpretrain_bgr': False}) for img in imgs]


def build_model(cfg: dict):
    torch.manual_seed(0)
    model = build(cfg, MODELS)
    model.init_weights()
    return model


def batch(model, pipeline: list[dict], n: int = 8, size: int = 32) -> dict:
    """A preprocessed training batch of ``n`` images through ``pipeline`` (ending with PackInputs)."""
    return model.data_preprocessor(default_collate(run_pipeline(pipeline, images(n, size))), True)


def train_losses(model, data: dict, steps: int = 5, lr: float = 0.2) -> list[float]:
    """The loss at each of ``steps`` SGD steps on the same batch."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = model.loss(data['inputs'], data['data_samples'])['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses

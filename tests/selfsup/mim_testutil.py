"""Shared by the masked-image-modelling tests: tiny model configs and MMPretrain's loss on the same
weights and inputs (through reference_testutil.run_mmpretrain, in the /work/refvenv side venv)."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from reference_testutil import run_mmpretrain

from fovea.registry import MODELS, build
from fovea.structures import DataSample

TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def build_model(cfg: dict, seed: int = 0):
    torch.manual_seed(seed)
    model = build(cfg, MODELS)
    model.init_weights()
    return model


def samples_with_masks(masks: torch.Tensor) -> list[DataSample]:
    out = []
    for m in masks:
        s = DataSample()
        s.set_field(m, 'mask')
        out.append(s)
    return out


def mmpretrain_loss(cfg: dict, state_dict: dict, inputs, masks: torch.Tensor | None, tmp_path: Path,
                    setup: str = '', extra: object = None, derived: tuple[str, ...] = ()) -> dict[str, float]:
    """MMPretrain's ``model.loss(inputs, data_samples)`` (as floats, torch seeded with 0 first) for ``cfg``
    with ``state_dict`` loaded strictly (but for the buffers ``derived`` names: see ``run_mmpretrain``);
    each data sample carries its ``mask``. ``setup`` runs after
    loading (``model``, and ``extra`` as ``data['extra']``, are in scope)."""
    body = f'''
from mmpretrain.structures import DataSample
model = build(json.loads(data['cfg']), data['state_dict'], tuple(data['derived']))
{setup}
samples = None
if data['masks'] is not None:
    samples = []
    for m in data['masks']:
        s = DataSample(); s.set_mask(m); samples.append(s)
torch.manual_seed(0)
result = {{k: float(v) for k, v in model.loss(data['inputs'], samples).items()}}
'''
    data = dict(cfg=json.dumps(cfg), state_dict=state_dict, inputs=inputs, masks=masks, extra=extra, derived=list(derived))
    return run_mmpretrain(tmp_path, data, body)

"""Shared by the masked-image-modelling tests: tiny model configs and a run of MMPretrain's own
implementation (in the /work/refvenv side venv) on the same weights and inputs."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from fovea.registry import MODELS, build
from fovea.structures import DataSample

REF_PYTHON = Path('/work/refvenv/bin/python')
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


def mmpretrain_loss(cfg: dict, state_dict: dict, inputs: list[torch.Tensor], masks: torch.Tensor | None,
                    tmp_path: Path, setup: str = '', extra: object = None, derived: tuple[str, ...] = ()
                    ) -> dict[str, float]:
    """MMPretrain's ``model.loss(inputs, data_samples)`` (as floats) for ``cfg`` with ``state_dict``
    loaded strictly (but for MMPretrain's buffers whose names end with one of ``derived``, which
    fovea rebuilds instead of saving, e.g. Swin's 'relative_position_index'); each data sample
    carries its ``mask``. ``setup`` runs after loading (``model``, and ``extra`` as
    ``data['extra']``, are in scope)."""
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    torch.save({'state_dict': state_dict, 'inputs': inputs, 'masks': masks, 'extra': extra}, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from mmpretrain.utils import register_all_modules
register_all_modules()
model = MODELS.build(json.loads({json.dumps(json.dumps(cfg))}))
data = torch.load({str(tmp_path / 'in.pth')!r})
missing, unexpected = model.load_state_dict(data['state_dict'], strict=False)
assert not unexpected and all(k.endswith({tuple(derived)!r}) for k in missing), (missing, unexpected)
model.train()
{setup}
samples = None
if data['masks'] is not None:
    samples = []
    for m in data['masks']:
        s = DataSample(); s.set_mask(m); samples.append(s)
torch.manual_seed(0)
losses = model.loss(data['inputs'], samples)
print(json.dumps({{k: float(v) for k, v in losses.items()}}))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])

"""Shared by the self-supervised reference tests: run a snippet in MMPretrain 1.2.0 (the side venv
/work/refvenv) on tensors saved from fovea and return what it computes. One subprocess per call (the
import of MMPretrain takes most of its time, so a test module gathers its checks into one call)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch

REF_PYTHON = Path('/work/refvenv/bin/python')


def run_mmpretrain(tmp_path: Path, data: dict, body: str) -> Any:
    """``body`` runs with ``data`` (loaded from a torch file) and ``build(cfg, state_dict, derived=())`` (an
    MMPretrain model in train mode, ``state_dict`` loaded strictly but for MMPretrain's buffers whose
    names end with one of ``derived``, which fovea rebuilds instead of saving, e.g. Swin's
    'relative_position_index') in scope, and assigns ``result`` (JSON-serialisable), which is returned."""
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    torch.save(data, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()

def build(cfg, state_dict, derived=()):
    model = MODELS.build(cfg)
    model.train()                      # (MMPretrain's backbones' train() returns None)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert not unexpected and all(k.endswith(tuple(derived)) for k in missing), (missing, unexpected)
    return model

data = torch.load({str(tmp_path / 'in.pth')!r})
{body}
print(json.dumps(result))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])

"""Self-supervised checkpoints in MMPretrain's layout (``backbone.``, ``neck.``, ``encoder_k.module.0/1``,
``target_net``, ``momentum_encoder``, queues): the whole model loads strictly, the backbone alone loads
into a classifier with ``prefix='backbone.'``, and without the prefix the error says to add it."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.registry import MODELS, build
from fovea.utils.errors import CheckpointError
from fovea.utils.weights import selfsup_parts

from selfsup_testutil import BACKBONE as BB, TWO_VIEW_CFGS

REF_PYTHON = Path('/work/refvenv/bin/python')
CFGS = TWO_VIEW_CFGS
MARKERS = {'MoCo': 'encoder_k', 'BYOL': 'target_net', 'MoCoV3': 'momentum_encoder', 'SimCLR': 'neck',
           'BarlowTwins': 'neck'}


def _classifier(init_cfg=None):
    return build(dict(type='ImageClassifier', backbone=dict(BB, init_cfg=init_cfg), neck=dict(type='GlobalAveragePooling'),
                      head=dict(type='LinearClsHead', num_classes=10, in_channels=128)), MODELS)


def _mmengine_checkpoint(state_dict: dict, path: Path) -> Path:
    """What MMEngine's CheckpointHook writes (its message hub and optimizer state as plain dicts)."""
    torch.save({'meta': {'epoch': 3, 'iter': 30, 'mmengine_version': '0.10.4', 'seed': 0},
                'state_dict': state_dict, 'message_hub': {'log_scalars': {}, 'runtime_info': {'epoch': 3}},
                'optimizer': {'state': {}, 'param_groups': []}}, path)
    return path


def _random_state(name: str) -> dict:
    """A state dict in MMPretrain's layout (fovea's own keys are MMPretrain's, see the reference test)
    with random values, as a trained checkpoint has."""
    model = build(CFGS[name], MODELS)
    g = torch.Generator().manual_seed(1)
    return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v + 3) for k, v in
            model.state_dict().items()}


def _check_loads(name: str, path: Path, sd: dict):
    model = build(CFGS[name], MODELS)
    report = load_weights(model, str(path), strict=True)
    assert report.source == 'fovea' and not report.missing and not report.unexpected
    assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())
    clf = _classifier(dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    clf.init_weights()
    assert all(torch.equal(v, sd['backbone.' + k]) for k, v in clf.backbone.state_dict().items())
    with pytest.raises(CheckpointError, match=r"whole self-supervised model .*prefix='backbone.'") as err:
        _classifier(dict(type='Pretrained', checkpoint=str(path))).init_weights()
    assert f'{MARKERS[name]}.*' in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize('name', sorted(CFGS))
def test_selfsup_checkpoints_in_mmpretrain_layout_load(name, tmp_path):
    sd = _random_state(name)
    assert MARKERS[name] in selfsup_parts(sd)
    _check_loads(name, _mmengine_checkpoint(sd, tmp_path / 'epoch_3.pth'), sd)


def test_classifier_checkpoints_are_not_taken_for_selfsup_ones():
    sd = _classifier().state_dict()
    assert selfsup_parts(sd) == ()
    assert selfsup_parts({k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}) == ()
    backbone = build(BB, MODELS)
    load_weights(backbone, sd)          # an MMPretrain classifier's checkpoint into a bare backbone still loads
    assert torch.equal(backbone.conv1.weight, sd['backbone.conv1.weight'])


def test_the_error_names_the_state_dict_when_there_is_no_file():
    with pytest.raises(CheckpointError, match=r"checkpoint='CKPT', prefix='backbone.'"):
        load_weights(build(BB, MODELS), _random_state('SimCLR'))


@pytest.mark.reference
def test_mmpretrain_saved_checkpoints_load(tmp_path):
    """MoCo v2, BYOL, MoCo v3, SimCLR and Barlow Twins built by MMPretrain itself, saved by mmengine's save_checkpoint."""
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    (tmp_path / 'ref.py').write_text(f'''
import json, torch
from mmengine.runner.checkpoint import save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
torch.manual_seed(0)
for name, cfg in json.loads({json.dumps(json.dumps(CFGS))}).items():
    model = MODELS.build(cfg)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    save_checkpoint({{'meta': {{'epoch': 1}}, 'state_dict': model.state_dict()}}, {str(tmp_path)!r} + f'/{{name}}.pth')
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(tmp_path / 'ref.py')], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    from fovea.utils.weights import extract_state_dict, read_weights
    for name in CFGS:
        path = tmp_path / f'{name}.pth'
        sd = extract_state_dict(read_weights(path))
        assert MARKERS[name] in selfsup_parts(sd)
        _check_loads(name, path, sd)

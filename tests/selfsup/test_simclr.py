"""SimCLR: the NT-Xent loss against its definition and against MMPretrain, the same gradients on
2 processes as on one with the global batch, and clear errors for pipelines that cannot feed it."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from dist_testutil import check_ddp_matches_one_process, free_port

from fovea.models.selfsup.simclr import nt_xent_logits
from fovea.registry import MODELS, build
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError

REF_PYTHON = Path('/work/refvenv/bin/python')

CFG = dict(type='SimCLR',
           backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=16, out_indices=(3,)),
           neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=64, out_channels=32, norm_cfg=dict(type='BN1d')),
           head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.1))


def _model():
    torch.manual_seed(0)
    model = build(CFG, MODELS)
    model.init_weights()
    return model


def _views(n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=g) for _ in range(2)]


def _reference_nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """The paper's definition over rows 2i / 2i+1 = views of image i: softmax over all other rows."""
    z = F.normalize(z, dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float('-inf'))
    target = torch.arange(len(z)) ^ 1
    return F.cross_entropy(sim, target)


def test_loss_is_nt_xent():
    z = torch.randn(10, 7)
    pos, neg = nt_xent_logits(z, z, offset=0)
    assert pos.shape == (10, 1) and neg.shape == (10, 8)
    loss = F.cross_entropy(torch.cat((pos, neg), 1) / 0.1, torch.zeros(10, dtype=torch.long))
    torch.testing.assert_close(loss, _reference_nt_xent(z, 0.1))

    model = _model().eval()
    v1, v2 = _views()
    z = model.neck(model.backbone(torch.stack((v1, v2), 1).flatten(0, 1)))[0]
    torch.testing.assert_close(model.loss([v1, v2])['loss'], _reference_nt_xent(z, 0.1))


def test_training_lowers_the_loss_on_fixed_views():
    model = _model().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    views = _views(8)
    losses = []
    for _ in range(6):
        loss = model.loss(views)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_bad_batches_are_config_errors():
    model = _model()
    with pytest.raises(ConfigError, match=r"MultiView.*num_views=2.*train_dataloader.dataset.pipeline"):
        model.loss(torch.randn(4, 3, 32, 32))
    with pytest.raises(ConfigError, match='takes 2 views per image, the pipeline gives 3'):
        model.loss(_views() + _views(seed=2)[:1])
    with pytest.raises(ConfigError, match='at least 2 images per batch'):
        model.loss(_views(1))


def test_preprocessor_normalises_each_view_and_predict_gives_features():
    model = build(dict(CFG, data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[100.] * 3, std=[50.] * 3,
                                                   to_rgb=True)), MODELS).eval()
    views = [torch.full((2, 3, 8, 8), 150, dtype=torch.uint8), torch.full((2, 3, 8, 8), 50, dtype=torch.uint8)]
    out = model.data_preprocessor({'inputs': views, 'data_samples': [DataSample(), DataSample()]}, True)
    assert [v.unique().tolist() for v in out['inputs']] == [[1.0], [-1.0]]
    samples = model(torch.randn(3, 3, 32, 32), mode='predict')
    assert len(samples) == 3 and samples[0].feats.shape == (128,)


def _dist_worker(rank, world, port):
    model = _model().eval()                                 # eval: BN statistics do not depend on the split
    check_ddp_matches_one_process(model, _views(8), rank, world, port)


@pytest.mark.slow
def test_two_processes_give_the_gradients_of_one_process_on_the_global_batch():
    mp.spawn(_dist_worker, args=(2, free_port()), nprocs=2, join=True)


@pytest.mark.reference
def test_loss_matches_mmpretrain(tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    model = _model().eval()
    views = _views()
    torch.save({'state_dict': model.state_dict(), 'views': views}, tmp_path / 'in.pth')
    script = tmp_path / 'ref.py'
    script.write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
cfg = json.loads({json.dumps(json.dumps(CFG))})
model = MODELS.build(cfg).eval()
data = torch.load({str(tmp_path / 'in.pth')!r})
print(model.load_state_dict(data['state_dict'], strict=True))
print(json.dumps(model.loss(data['views'], None)['loss'].item()))
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    assert model.loss(views)['loss'].item() == pytest.approx(ref, abs=1e-5)

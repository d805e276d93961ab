"""`fovea reparameterize`: a RepVGG checkpoint folds into the deploy form with the same outputs."""
from __future__ import annotations

import pytest
import torch

from fovea.cli.main import main
from fovea.utils.errors import ConfigError


def _cli(argv) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


@pytest.fixture(scope='module')
def repvgg_ckpt(tmp_path_factory):
    """A RepVGG-A0 classifier with non-trivial batch-norm statistics, saved as a fovea checkpoint."""
    from fovea.apis.model import build_model_from_cfg
    from fovea.config import Config
    d = tmp_path_factory.mktemp('repvgg')
    cfg = Config.fromfile('repvgg-A0_8xb32_in1k')
    model = build_model_from_cfg(cfg.to_dict()['model'])
    model.train()
    with torch.no_grad():  # a few training-mode passes move the running statistics away from 0/1
        for _ in range(2):
            model(torch.randn(4, 3, 32, 32) * 2 + 0.5, mode='tensor')
    path = d / 'a0.pth'
    torch.save({'meta': {'config': cfg.pretty_text()}, 'state_dict': model.state_dict()}, path)
    return path, model.eval()


def test_reparameterize_repvgg(repvgg_ckpt, tmp_path, capsys):
    path, model = repvgg_ckpt
    out = tmp_path / 'a0_deploy.pth'
    assert _cli(['reparameterize', str(path), str(out), '--shape', '32']) == 0
    printed = capsys.readouterr().out
    # RepVGG-A0: 9.11 M parameters for training, 8.31 M deployed (the paper's Table 4 / MMPretrain's model zoo)
    assert '9.11 M -> 8.31 M' in printed
    from fovea.apis.inference import build_inference_model
    from fovea.config import Config
    deploy = build_inference_model(Config.fromfile('repvgg-A0_deploy_in1k'), str(out), 'cpu')
    from fovea.models.backbones.repvgg import RepVGGBlock
    blocks = [m for m in deploy.modules() if isinstance(m, RepVGGBlock)]
    assert deploy.backbone.deploy and len(blocks) == 22 and all(not hasattr(b, 'branch_3x3') for b in blocks)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        assert (deploy(x, mode='tensor') - ref).abs().max() <= 1e-5 * ref.abs().max()  # float rounding only
    stored = torch.load(out, map_location='cpu', weights_only=False)
    assert 'deploy' in stored['meta']['config'] and stored['meta']['reparameterized'] == ['backbone']


def test_reparameterize_rejects_plain_models(lenet_run, tmp_path):
    with pytest.raises(ConfigError, match='no re-parameterisable module'):
        from fovea.tools.reparam import reparameterize_checkpoint
        reparameterize_checkpoint(lenet_run['checkpoint'], tmp_path / 'x.pth')
    assert not (tmp_path / 'x.pth').exists()

"""fovea mae-visualize: a PNG of the four panels at the documented size; the panels are what they say."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from fovea.config import Config
from fovea.registry import MODELS, build
from fovea.tools.mae_visualize import PANELS, mae_reconstruction
from fovea.utils.errors import ConfigError


def _model():
    cfg = Config.fromfile('mae_vit-tiny-p4_cifar10')
    model_cfg = cfg.model_cfg()
    model_cfg['backbone']['arch'] = dict(embed_dims=48, num_layers=1, num_heads=2, feedforward_channels=96)
    model_cfg['neck'].update(embed_dim=48, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)
    torch.manual_seed(0)
    model = build(model_cfg, MODELS, key='model')
    model.init_weights()
    return model, model_cfg


def test_panels():
    model, _ = _model()
    img = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8)
    panels = mae_reconstruction(model, img, seed=0)
    assert list(panels) == list(PANELS) and all(p.shape == (3, 32, 32) and p.dtype == torch.uint8
                                                for p in panels.values())
    grey = (panels['masked'] == 128).all(0)
    # 75% of the 4x4 patches are greyed, whole patches; the pasted panel keeps the visible ones
    assert grey.view(8, 4, 8, 4).all(3).all(1).sum() == 48
    assert torch.equal(panels['reconstruction + visible'][:, ~grey], panels['input'][:, ~grey])
    assert torch.equal(panels['reconstruction + visible'][:, grey], panels['reconstruction'][:, grey])
    assert torch.equal(mae_reconstruction(model, img, seed=0)['masked'], panels['masked'])   # seeded mask


def test_cli_writes_a_png_of_the_right_size(tmp_path, capsys):
    from fovea.cli.main import main
    model, model_cfg = _model()
    cfg_path = tmp_path / 'mae_tiny.py'
    cfg_path.write_text(f'model = {model_cfg!r}\n')
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'mae.pth')
    Image.new('RGB', (50, 40), (200, 30, 90)).save(tmp_path / 'img.png')
    out = tmp_path / 'pic' / 'x.png'
    with pytest.raises(SystemExit) as exit_:
        main(['mae-visualize', str(cfg_path), str(tmp_path / 'mae.pth'), str(tmp_path / 'img.png'),
              '--out', str(out), '--cell', '64'])
    assert exit_.value.code == 0
    with Image.open(out) as im:
        assert im.format == 'PNG' and im.mode == 'RGB'
        # make_grid: 4 cells of 64 px with 4 px gaps, a 20 px heading row (font 12 + 8)
        assert im.size == (4 * (64 + 4) + 4, 20 + 64 + 4 + 4)
    assert 'reconstruction + visible' in capsys.readouterr().out


def test_not_an_mae_model():
    model = build(dict(type='SimCLR', backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=8),
                       neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=8, out_channels=8),
                       head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'))), MODELS)
    with pytest.raises(ConfigError, match='needs an MAE model'):
        mae_reconstruction(model, torch.zeros(3, 32, 32, dtype=torch.uint8))

"""LeViT: parameter counts against MMPretrain's metafile (every config: tests/compat), timm's levit_* weights
(logits within 1e-4), MMPretrain's checkpoints (strict load, same logits), the folded inference form."""
from __future__ import annotations

import pytest
import torch

from fovea.models.backbones.levit import LeViT
from fovea.utils.errors import ConfigError
from test_cnn_b_convert import _calibrate, _fovea
from zoo_helpers import assert_converts, count_config

# config, parameters (the metafile's 7,391,290 + the distillation classifier it leaves out), MACs of the metafile
PUBLISHED = [('levit-128s_8xb256_in1k', 7_391_290 + 385_768, 310_342_496)]
SMALL = dict(embed_dims=[32, 48], num_heads=[2, 3], depths=[1, 1], key_dims=[8, 8])


@pytest.mark.parametrize('name,params,macs', PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_params_and_macs(name, params, macs):
    _, n_params, n_macs = count_config(f'levit/{name}.py')
    assert n_params == params
    assert abs(n_macs - macs) <= 0.03 * macs


def test_timm_levit_equivalence():
    timm = pytest.importorskip('timm')
    ref = _calibrate(timm.create_model('levit_128s', pretrained=False), 224)
    assert_converts(ref, _fovea('levit-256-p16.py', dict(arch='128s'), dict(in_channels=384)),
                    torch.randn(2, 3, 224, 224))


def _draw_batch_norms(model):
    """Random batch-norm statistics and affines, random attention biases (a distillation head cannot run in
    train mode, so the statistics are drawn rather than measured)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                for t, lo in ((m.weight, 0.5), (m.running_var, 0.5)):
                    t.copy_(torch.rand(t.shape, generator=g) + lo)
                for t in (m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=g) * 0.2)
        for name, p in model.named_parameters():
            if name.endswith('attention_biases'):
                p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def _small_model():
    return _draw_batch_norms(_fovea('levit-256-p16.py', dict(arch=SMALL, img_size=64, out_indices=(1,)),
                                    dict(in_channels=48, num_classes=10)))


@pytest.mark.reference
def test_mmpretrain_checkpoint_gives_the_same_logits():
    from mmpretrain_pair import mmpretrain_pair
    from fovea.config import Config
    cfg = Config.fromfile('_base_/models/levit-256-p16.py').to_dict()['model']
    cfg['backbone'].update(arch='128s')
    cfg['head']['in_channels'] = 384
    cfg.pop('train_cfg')
    ref, ours = mmpretrain_pair(cfg, _draw_batch_norms)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        want = ref(x, mode='tensor')
        assert want.abs().max() > 0.05 and (ours(x, mode='tensor') - want).abs().max() < 1e-4


def test_deploy_form_gives_the_same_logits():
    from fovea.tools.reparam import reparameterize_model
    model = _small_model().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = model(x, mode='tensor')
        names = reparameterize_model(model)
        got = model(x, mode='tensor')
    assert set(names) == {'backbone', 'head'}
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    assert (got - want).abs().max() < 1e-4 and want.abs().max() > 0.05
    # built folded (deploy=True) it has the folded layers' names and sizes
    folded = LeViT(SMALL, img_size=64, deploy=True)
    assert set(folded.state_dict()) == {k[len('backbone.'):] for k in model.state_dict() if k.startswith('backbone.')}


def test_outputs_and_distillation_training():
    model = LeViT(SMALL, img_size=64, out_indices=(0, 1))
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(32, 4, 4), (48, 2, 2)] and model.stage_reductions == (16, 32)
    assert model.stages[1][0].attention_biases.shape == (32 // 8, 16)   # 4 heads, 4 x 4 offsets
    head = _small_model().head.train()
    with pytest.raises(ConfigError, match='distillation=False'):
        head(torch.randn(2, 48))
    with pytest.raises(ConfigError, match="LeViT has no arch '64'"):
        LeViT('64')

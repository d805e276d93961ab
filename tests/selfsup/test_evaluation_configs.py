"""The evaluation protocols of self-supervised pretraining: the shipped linear-probe and fine-tune configs
(MMPretrain's ``configs/<algo>/benchmarks/``) build with MMPretrain's parameter counts, freeze what they
should and build their optimizers; the probe necks; and the CIFAR chain pretrain -> kNN -> linear probe
through the CLI."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fovea.config import Config
from fovea.registry import MODELS, build

REF_PYTHON = Path('/work/refvenv/bin/python')

# MMPretrain 1.2.0's metafile counts; the MAE fine-tune configs build a final LayerNorm after the token
# average (ln2, 2 x width) that the metafile leaves out: MMPretrain's own build has it too.
PUBLISHED = {
    'simclr/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k': 25_557_032,
    'byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k': 25_557_032,
    'mocov2/benchmarks/resnet50_8xb32-linear-steplr-100e_in1k': 25_557_032,
    'barlowtwins/benchmarks/resnet50_8xb32-linear-coslr-100e_in1k': 25_557_032,
    'mocov3/benchmarks/resnet50_8xb128-linear-coslr-90e_in1k': 25_557_032,
    'mocov3/benchmarks/vit-small-p16_8xb128-linear-coslr-90e_in1k': 22_050_664,
    'mocov3/benchmarks/vit-base-p16_8xb128-linear-coslr-90e_in1k': 86_567_656,
    'mocov3/benchmarks/vit-base-p16_8xb64-coslr-150e_in1k': 86_567_656,
    'mocov3/benchmarks/vit-large-p16_8xb64-coslr-100e_in1k': 304_326_632,
    'mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k': 86_567_656,
    'mae/benchmarks/vit-large-p16_8xb2048-linear-coslr-90e_in1k': 304_326_632,
    'mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k': 86_566_120 + 2 * 768,
    'mae/benchmarks/vit-large-p16_8xb128-coslr-50e_in1k': 304_324_584 + 2 * 1024,
    'mae/benchmarks/vit-huge-p14_8xb128-coslr-50e_in1k': 632_043_240 + 2 * 1280,
    'mae/benchmarks/vit-huge-p14_32xb8-coslr-50e_in1k-448px': 633_026_280 + 2 * 1280,
}
SHIPPED = sorted(str(p.relative_to(p.parents[2]).with_suffix(''))
                 for p in (Path(__file__).parents[2] / 'fovea' / 'configs').glob('*/benchmarks/*.py'))


def _model(name: str, device: str = 'meta'):
    cfg = Config.fromfile(name)
    model_cfg = cfg.model_cfg()
    model_cfg['backbone']['init_cfg'] = None
    with torch.device(device):
        return cfg, build(model_cfg, MODELS, key='model')


def test_every_shipped_benchmark_config_is_checked():
    assert SHIPPED == sorted(PUBLISHED)


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_benchmark_configs_build_with_the_published_parameter_counts(name):
    cfg, model = _model(name)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]
    init = Config.fromfile(name).model['backbone']['init_cfg']
    assert init == dict(type='Pretrained', checkpoint='', prefix='backbone.')


@pytest.mark.parametrize('name', [n for n in sorted(PUBLISHED) if 'linear' in n])
def test_linear_probes_train_only_the_head(name):
    cfg, model = _model(name)
    model.train()
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable in (['head.fc.bias', 'head.fc.weight'],
                         ['head.layers.head.bias', 'head.layers.head.weight']), trainable
    # frozen BatchNorms keep their statistics in training mode
    assert all(not m.training for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_mae_fine_tune_uses_layer_wise_lr_decay_065():
    from fovea.engine.optim_constructor import build_optim_wrapper
    cfg, model = _model('mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {}
    for g in wrapper.optimizer.param_groups:
        for p in g['params']:
            lrs[id(p)] = g['lr']
    names = dict(model.named_parameters())
    base = 2e-3
    # 12 blocks: patch embedding layer 0, block i layer i + 1, the head layer 13 (14 layers)
    assert lrs[id(names['head.fc.weight'])] == pytest.approx(base)
    assert lrs[id(names['backbone.layers.11.ffn.layers.1.weight'])] == pytest.approx(base * 0.65)
    assert lrs[id(names['backbone.patch_embed.projection.weight'])] == pytest.approx(base * 0.65 ** 13)


def test_mae_linear_probe_uses_lars_with_mixed_precision():
    cfg = Config.fromfile('mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k')
    assert cfg.optim_wrapper == dict(type='AmpOptimWrapper',
                                     optimizer=dict(type='LARS', lr=6.4, weight_decay=0.0, momentum=0.9))


def test_cls_batchnorm_neck_normalises_each_feature_over_the_batch():
    neck = build(dict(type='ClsBatchNormNeck', input_features=4), MODELS).train()
    x = torch.randn(16, 4) * 5 + 3
    (y,) = neck((x,))
    assert list(neck.state_dict()) == ['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']
    assert torch.allclose(y.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(y.var(0, unbiased=False), torch.ones(4), atol=1e-3)


def test_linear_neck_pools_projects_and_normalises():
    neck = build(dict(type='LinearNeck', in_channels=8, out_channels=3, gap_dim=2), MODELS).train()
    (y,) = neck((torch.randn(2, 8, 4, 4), torch.randn(5, 8, 3, 3)))     # the last output is used
    assert y.shape == (5, 3)
    assert sorted(k for k in neck.state_dict() if 'weight' in k) == ['fc.weight', 'norm.weight']
    assert torch.allclose(y.mean(0), torch.zeros(3), atol=1e-5)
    with pytest.raises(Exception, match='gap_dim'):
        build(dict(type='LinearNeck', in_channels=8, out_channels=3, gap_dim=4), MODELS)


PROBE_NECKS = [dict(type='ClsBatchNormNeck', input_features=6),
               dict(type='LinearNeck', in_channels=6, out_channels=4, gap_dim=1, act_cfg=dict(type='ReLU'))]


@pytest.mark.reference
def test_probe_necks_match_mmpretrain(tmp_path):
    if not REF_PYTHON.is_file():
        pytest.skip('MMPretrain reference venv (/work/refvenv) not installed')
    necks = [build(cfg, MODELS).train() for cfg in PROBE_NECKS]
    xs = [torch.randn(8, 6), torch.randn(8, 6, 5)]
    torch.save({'state_dicts': [n.state_dict() for n in necks], 'xs': xs}, tmp_path / 'in.pth')
    (tmp_path / 'ref.py').write_text(f'''
import json, torch
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules
register_all_modules()
data = torch.load({str(tmp_path / 'in.pth')!r})
outs = []
for cfg, sd, x in zip(json.loads({json.dumps(json.dumps(PROBE_NECKS))}), data['state_dicts'], data['xs']):
    neck = MODELS.build(cfg).train()
    neck.load_state_dict(sd, strict=True)
    outs.append(neck((x,))[0])
torch.save(outs, {str(tmp_path / 'out.pth')!r})
''')
    env = dict(os.environ, PYTHONPATH='', TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([str(REF_PYTHON), str(tmp_path / 'ref.py')], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    for neck, x, ref in zip(necks, xs, torch.load(tmp_path / 'out.pth')):
        assert torch.allclose(neck((x,))[0], ref, atol=1e-5)


def _fovea(*args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, '-m', 'fovea', *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.mark.real
@pytest.mark.slow
def test_pretrain_knn_linear_probe_chain_through_the_cli(cifar10_root, tmp_path):
    """`fovea train simclr_resnet18_cifar10` -> `fovea knn CFG CKPT` -> `fovea train
    resnet18_linear-probe_cifar10 --cfg-options model.backbone.init_cfg.checkpoint=CKPT` on 65 training and
    65 test images (a narrow ResNet-18, one epoch each): the probe starts from the pretrained backbone and
    trains only its head."""
    root = str(cifar10_root)
    train_idx = '[' + ','.join(str(i) for i in range(0, 50_000, 781)) + ']'    # every class (sorted folders)
    test_idx = '[' + ','.join(str(i) for i in range(0, 10_000, 156)) + ']'
    narrow = ['model.backbone.base_channels=16']
    _fovea('train', 'simclr_resnet18_cifar10', '--work-dir', 'pre', '--cfg-options',
           f'train_dataloader.dataset.data_root={root}', f'train_dataloader.dataset.indices={train_idx}',
           'train_dataloader.batch_size=32', 'train_dataloader.num_workers=0',
           'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1', 'custom_hooks=[]',
           'param_scheduler=[]', *narrow, 'model.neck.in_channels=128', cwd=tmp_path)
    ckpt = (tmp_path / 'pre' / 'last_checkpoint').read_text().strip()
    out = _fovea('knn', 'simclr_resnet18_cifar10', ckpt, '--cfg-options',
                 *[f'knn_cfg.{s}_dataloader.{k}' for s in ('train', 'val') for k in (
                     f'dataset.data_root={root}', 'num_workers=0')],
                 f'knn_cfg.train_dataloader.dataset.indices={train_idx}',
                 f'knn_cfg.val_dataloader.dataset.indices={test_idx}', *narrow, 'model.neck.in_channels=128',
                 cwd=tmp_path)
    assert 'over 65 memory and 65 query images' in out
    top1 = float(re.search(r'knn/top1 \| +([0-9.]+)', out)[1])
    assert 0 <= top1 <= 100
    out = _fovea('train', 'resnet18_linear-probe_cifar10', '--work-dir', 'lin', '--cfg-options',
                 f'model.backbone.init_cfg.checkpoint={ckpt}', *narrow, 'model.head.in_channels=128',
                 *[f'{s}_dataloader.{k}' for s in ('train', 'val') for k in (
                     f'dataset.data_root={root}', 'num_workers=0', 'persistent_workers=False')],
                 f'train_dataloader.dataset.indices={train_idx}', f'val_dataloader.dataset.indices={test_idx}',
                 'train_dataloader.batch_size=32', 'train_cfg.max_epochs=1', cwd=tmp_path)
    assert 'accuracy/top1' in out
    pre = torch.load(ckpt, map_location='cpu')['state_dict']
    probe_ckpt = (tmp_path / 'lin' / 'last_checkpoint').read_text().strip()
    probe = torch.load(probe_ckpt, map_location='cpu')['state_dict']
    backbone = [k for k in probe if k.startswith('backbone.')]
    assert backbone and all(torch.equal(probe[k], pre[k]) for k in backbone)   # loaded, frozen, BN stats kept

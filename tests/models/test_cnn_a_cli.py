"""`fovea flops` and `fovea list-models` for CNN zoo A."""
from __future__ import annotations

import pytest

from fovea.cli.main import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_flops_table_and_totals(capsys):
    code, out, _ = _run(['flops', 'resnet18_8xb16_cifar10', '--depth', '2'], capsys)
    assert code == 0
    assert 'at input 3x32x32' in out  # the index entry's input size
    assert 'Params: 11.17 M   MACs: 0.555 G' in out
    assert 'FlopCounterMode FLOPs divided by 2' in out
    assert 'backbone.layer4' in out and 'head.fc' in out
    code, out, _ = _run(['flops', 'googlenet_8xb32_in1k', '--shape', '112', '--depth', '0'], capsys)
    assert 'at input 3x112x112' in out and 'backbone.' not in out


def test_flops_of_a_config_file_and_unknown_names(capsys, tmp_path):
    cfg = tmp_path / 'tiny.py'
    cfg.write_text("model = dict(type='ImageClassifier', backbone=dict(type='ResNet_CIFAR', depth=18),\n"
                   "             neck=dict(type='GlobalAveragePooling'),\n"
                   "             head=dict(type='LinearClsHead', num_classes=100, in_channels=512))\n")
    code, out, _ = _run(['flops', str(cfg), '--shape', '32'], capsys)
    assert code == 0 and 'Params: 11.22 M' in out
    code, _, err = _run(['flops', 'resnet50_8xb32_inik'], capsys)
    assert code == 1 and 'resnet50_8xb32_in1k' in err  # did-you-mean


def test_list_models(capsys):
    code, out, _ = _run(['list-models', 'resnet50*'], capsys)
    assert code == 0
    line = next(l for l in out.splitlines() if l.startswith('resnet50_8xb32_in1k '))
    assert line.split()[1:5] == ['25.56', '4.089', '224', '76.55']
    assert 'FlopCounterMode FLOPs / 2' in out
    code, out, _ = _run(['list-models', 'densenet', '--names-only'], capsys)
    assert out.split() == ['densenet121_3rdparty_in1k', 'densenet161_3rdparty_in1k', 'densenet169_3rdparty_in1k',
                           'densenet201_3rdparty_in1k']


def test_zoo_entries_are_complete():
    import fovea
    from fovea.zoo import find_entry
    names = fovea.list_models('*in1k')
    for name in ('resnet18_8xb32_in1k', 'vgg16bn_8xb32_in1k', 'inception-v3_3rdparty_8xb32_in1k',
                 'resnext50-32x4d_8xb32_in1k', 'seresnet50_8xb32_in1k', 'densenet121_3rdparty_in1k',
                 'resnetv1c50_8xb32_in1k', 'resnetv1d50_8xb32_in1k', 'googlenet_8xb32_in1k', 'alexnet_8xb32_in1k'):
        assert name in names
        e = find_entry(name)
        assert e['paper'] and e['params_m'] > 0 and e['flops_g'] > 0
    w = find_entry('resnet50_8xb32_in1k')['weights']
    assert w['url'].endswith('-ea4938fc.pth') and w['sha256'] == 'ea4938fc'

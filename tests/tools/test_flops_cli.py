"""`fovea flops`: shipped config names are accepted, the input shape comes from the config (its backbone's
input channels, its test pipeline's size), and --shape / --in-channels override it."""
from __future__ import annotations

import textwrap

import pytest

from fovea.cli.main import main
from fovea.tools.flops_table import build_for_counting
from fovea.utils.errors import ConfigError


def _flops(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as info:
        main(['flops', *argv])
    out = capsys.readouterr()
    assert info.value.code == 0, out.err
    return out.out


def test_shipped_config_name_and_its_input_shape(capsys):
    out = _flops(capsys, 'lenet5_digits', '--depth', '0')
    assert out.startswith('lenet5_digits at input 1x32x32')   # greyscale digits resized to 32
    assert 'Params: 0.05 M' in out and 'total        0.052  0.0004' in out


def test_shape_and_channels_override(capsys):
    out = _flops(capsys, 'lenet5_digits', '--shape', '36', '40', '--depth', '0')
    assert out.startswith('lenet5_digits at input 1x36x40')
    out = _flops(capsys, 'lenet5_digits', '--in-channels', '1', '--depth', '0')
    assert out.startswith('lenet5_digits at input 1x32x32')


@pytest.mark.parametrize('pipeline,shape', [
    ("[dict(type='ResizeEdge', scale=256, edge='short'), dict(type='CenterCrop', crop_size=224)]", (3, 224, 224)),
    ("[dict(type='Resize', scale=(200, 100))]", (3, 100, 200)),              # MMPretrain sizes are (w, h)
    ("[dict(type='ResizeEdge', scale=384)]", (3, 224, 224)),                 # one edge only: the default
], ids=['crop', 'resize-wh', 'edge-only'])
def test_size_from_the_test_pipeline(tmp_path, pipeline, shape):
    cfg = tmp_path / 'c.py'
    cfg.write_text(textwrap.dedent(f"""
        model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18, in_channels=3),
                     neck=dict(type='GlobalAveragePooling'),
                     head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
        test_dataloader = dict(dataset=dict(type='ImageNet', pipeline={pipeline}))
    """))
    assert build_for_counting(str(cfg))[1] == shape


def test_unknown_name_suggests_models_and_configs():
    with pytest.raises(ConfigError, match="neither a model name .* nor a config file or shipped config name.*"
                                          "Did you mean 'lenet5_digits'"):
        build_for_counting('lenet5_digit')

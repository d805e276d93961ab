"""Malformed configs and --cfg-options: every mistake is a ConfigError that names the key and, for
typos, suggests the right name; no raw TypeError/RecursionError from deep inside."""
from __future__ import annotations

import json

import pytest

from _faults import tiny_options
from fovea.config import Config, parse_cfg_options
from fovea.engine.runner import Runner
from fovea.utils.errors import ConfigError

CASES = [
    # (cfg-options, regex the error must match)
    (['optim_wrapper.optimzer.lr=0.1'], r"no key 'optim_wrapper.optimzer'.*Did you mean 'optimizer'"),
    (['trian_cfg.max_epochs=3'], r"no key 'trian_cfg'.*Did you mean 'train_cfg'"),
    (['train_cfg.max_epoch=3'], r"train_cfg.max_epoch=3 for EpochBasedTrainLoop.*Did you mean 'max_epochs'"),
    (['train_dataloader.batch_sizes=3'], r"train_dataloader.batch_sizes.*Did you mean 'batch_size'"),
    (['model.backbone.type=LeNet6'], r"Unknown model type 'LeNet6' at model.backbone.type.*Did you mean 'LeNet5'"),
    (['model.backbone.typo=3'], r'Unexpected argument model.backbone.typo=3 for LeNet5'),
    (['train_cfg.max_epochs=abc'], r"train_cfg.max_epochs='abc' for EpochBasedTrainLoop must be a number"),
    (['optim_wrapper.optimizer.lr=fast'], r"optim_wrapper.optimizer.lr='fast' for SGD must be a number"),
    (['model.head.num_classes=ten'], r"model.head.num_classes='ten' for LinearClsHead must be a number"),
    (['train_cfg=[1,2'], r"value '\[1,2' has unbalanced brackets"),
    (['lr'], r'has no "="'),
    (['=3'], r'empty key'),
    (['train_dataloader.dataset.pipeline.5.scale=3'], r'pipeline.5 must be an index below 2'),
    (['env_cfg.precision=fp8'], r"precision must be one of .* got 'fp8'"),
    (['default_hooks.logger.interval=0'], r'logger.interval must be >= 1'),
    (['default_hooks.checkpoint.rule=bigger'], r"rule must be 'greater' or 'less'"),
    (['train_cfg.max_epochs=0'], r'max_epochs must be >= 1'),
    (['train_dataloader.batch_size=0'], r'train_dataloader.batch_size=0: the batch size must be a whole number'),
    (['val_dataloader.batch_size=-2'], r'val_dataloader.batch_size=-2: the batch size must be'),
    (['train_cfg.val_interval=(1,3]'], r"train_cfg.val_interval: .*value '\(1,3\]' has unbalanced brackets"),
    (['default_hooks.checkpoint.intervall=2'],
     r"default_hooks.checkpoint.intervall=2 for CheckpointHook. Did you mean 'interval'"),
]


@pytest.mark.parametrize('options,pattern', CASES, ids=[c[0][0] for c in CASES])
def test_bad_cfg_options(tmp_path, options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        cfg = Config.fromfile('lenet5_digits', [*tiny_options(tmp_path, epochs=1), *options])
        Runner.from_cfg(cfg).train()


def test_cfg_option_values_are_literals_never_code(tmp_path):
    marker = tmp_path / 'marker'
    opts = parse_cfg_options([f'a=__import__("os").system("touch {marker}")', 'b=[1, (2, 3)]', 'c=none', 'd=x,y',
                              "e={'k': 1}", 'f=1e-3'])
    assert opts == {'a': f'__import__("os").system("touch {marker}")', 'b': [1, (2, 3)], 'c': None, 'd': ['x', 'y'],
                    'e': {'k': 1}, 'f': 1e-3}
    assert not marker.exists()


@pytest.mark.parametrize('name,text,pattern', [
    ('broken.py', 'model = dict(type="ImageClassifier"\n', r'Syntax error in config .*broken.py, line'),
    ('raises.py', 'model = 1 / 0\n', r'raises.py failed to run: ZeroDivisionError'),
    ('broken.json', '{"model": {"type": "ImageClassifier",}}', r'Invalid JSON in config .*broken.json, line 1'),
    ('broken.yaml', 'model: [unclosed\n', r'Invalid YAML in config .*broken.yaml'),
    ('cfg.toml', 'model = 1', r"unsupported extension '.toml'"),
    ('missing_base.py', '_base_ = ["nope.py"]\n', r"base config 'nope.py' was not found"),
    ('circular.py', '_base_ = ["circular.py"]\n', r'Circular _base_ inheritance'),
])
def test_bad_config_files(tmp_path, name, text, pattern):
    if name.endswith('.yaml'):
        pytest.importorskip('yaml')
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        Config.fromfile(p)


def test_misspelled_top_level_key_and_missing_config(tmp_path):
    p = tmp_path / 'c.json'
    p.write_text(json.dumps({'_base_': 'lenet5_digits', 'optim_wraper': {}}))
    del_key = Config.fromfile(p)
    del del_key['optim_wrapper']
    with pytest.raises(ConfigError, match="Unknown top-level config key 'optim_wraper'.*Did you mean 'optim_wrapper'"):
        Runner.from_cfg(del_key)
    with pytest.raises(ConfigError, match=r"'lenet5_digit' was not found.*Did you mean 'lenet5_digits'"):
        Config.fromfile('lenet5_digit')

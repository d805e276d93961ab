"""--cfg-options: malformed values fail at parse time naming the key; new nested keys are created as
MMEngine creates them, and keys no component takes fail at build time with the key path."""
from __future__ import annotations

import pytest

from fovea.config import Config, apply_options, parse_cfg_options, parse_value
from fovea.utils.errors import ConfigError


@pytest.mark.parametrize('value', ['(1,3]', '[1,2', '1,3]', '{1: 2]', '((1, 2)'])
def test_unbalanced_brackets_fail_at_parse_time_naming_the_key(value):
    with pytest.raises(ConfigError, match=r'train_pipeline\.1\.scale: .*unbalanced brackets'):
        parse_cfg_options([f'train_pipeline.1.scale={value}'])


def test_balanced_values_still_parse():
    assert parse_cfg_options(['a=(1,3)', 'b=[[1,2],[3]]', "c='(1,3]'", 'd=x,y']) == {
        'a': (1, 3), 'b': [[1, 2], [3]], 'c': '(1,3]', 'd': ['x', 'y']}


def test_new_nested_keys_are_created_under_known_keys():
    cfg = {'model': {'type': 'ImageClassifier', 'head': {'type': 'LinearClsHead'}}}
    apply_options(cfg, {'randomness.seed': 0, 'model.head.topk': [1, 2], 'model.train_cfg.augments': None,
                        'env_cfg.dist_cfg.backend': 'gloo'})
    assert cfg['randomness'] == {'seed': 0}
    assert cfg['model']['head']['topk'] == [1, 2] and cfg['model']['train_cfg'] == {'augments': None}
    assert cfg['env_cfg'] == {'dist_cfg': {'backend': 'gloo'}}


@pytest.mark.parametrize('option,pattern', [
    ('trian_cfg.max_epochs', r"no key 'trian_cfg'.*Did you mean 'train_cfg'"),
    ('model.haed.num_classes', r"no key 'model.haed'.*Did you mean 'head'"),
])
def test_typos_of_existing_keys_are_still_refused(option, pattern):
    cfg = {'model': {'type': 'ImageClassifier', 'head': {'type': 'LinearClsHead'}}, 'train_cfg': {}}
    with pytest.raises(ConfigError, match=pattern):
        apply_options(cfg, {option: 1})


TINY = ['train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32',
        'default_hooks.logger.tensorboard=False']


def _config_without_randomness(tmp_path):
    cfg = Config.fromfile('lenet5_digits')
    del cfg['randomness']
    path = tmp_path / 'no_randomness.py'
    cfg.dump(path)
    assert 'randomness' not in Config.fromfile(path)
    return path


def test_randomness_seed_from_the_command_line_reaches_the_run(tmp_path, capsys):
    from fovea.cli.main import main
    from fovea.convert import read_weights
    path = _config_without_randomness(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(['train', str(path), '--cfg-options', 'randomness.seed=1234', *TINY, f'work_dir={tmp_path / "w"}'])
    assert info.value.code == 0, capsys.readouterr().err
    ckpt = next((tmp_path / 'w').glob('*/epoch_1.pth'))
    assert read_weights(ckpt)['meta']['seed'] == 1234


def test_unknown_randomness_key_fails_at_build_time(tmp_path):
    from fovea.engine.runner import Runner
    cfg = Config.fromfile(_config_without_randomness(tmp_path), ['randomness.sed=3', f'work_dir={tmp_path}'])
    with pytest.raises(ConfigError, match=r"randomness\.sed.*Did you mean 'seed'"):
        Runner.from_cfg(cfg)


def test_created_key_a_forwarding_constructor_refuses_names_its_path(tmp_path):
    """LinearClsHead takes **kwargs for ClsHead: a misspelt head argument was a raw TypeError from ClsHead."""
    from fovea.engine.runner import Runner
    Runner.from_cfg(Config.fromfile('lenet5_digits', ['model.head.topk=[1,2]', f'work_dir={tmp_path}']))
    with pytest.raises(ConfigError, match=r"Unexpected argument model.head.tpok=1 for LinearClsHead. "
                                          r"Did you mean 'topk'\? Accepted arguments: .*topk"):
        Runner.from_cfg(Config.fromfile('lenet5_digits', ['model.head.tpok=1', f'work_dir={tmp_path}']))


def test_dict_calls_parse_as_literals_without_running_code():
    # this used to recurse until RecursionError (a raw traceback) instead of parsing
    value = parse_value('[dict(type="LinearLR", start_factor=0.1, by_epoch=False, end=5), '
                        'dict(type="CosineAnnealingLR", begin=5, eta_min=0.0)]')
    assert value == [dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=5),
                     dict(type='CosineAnnealingLR', begin=5, eta_min=0.0)]
    assert parse_value("dict(type='Pretrained', checkpoint='a.pth', prefix='backbone.')") == \
        {'type': 'Pretrained', 'checkpoint': 'a.pth', 'prefix': 'backbone.'}
    # anything but dict(...) of literals stays a plain string: nothing is called
    assert parse_value('print(1)') == 'print(1)'
    assert parse_value("dict(a=__import__('os').system('true'))") == "dict(a=__import__('os').system('true'))"
    assert parse_value('f(a, b)') == 'f(a, b)'

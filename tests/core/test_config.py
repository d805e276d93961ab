"""Config files: _base_ inheritance, _delete_, base references, --cfg-options, errors."""
import json
import textwrap

import pytest

from fovea.config import Config, apply_options, list_configs, parse_cfg_options, parse_value
from fovea.utils.errors import ConfigError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def cfg_tree(tmp_path):
    write(tmp_path / '_base_' / 'model.py', """
        model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=50, out_indices=(3,)),
                     head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048))
        num_classes = 1000
    """)
    write(tmp_path / '_base_' / 'sched.py', """
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
        train_cfg = dict(by_epoch=True, max_epochs=100)
    """)
    return tmp_path


def test_base_list_merge_and_override(cfg_tree):
    child = write(cfg_tree / 'exp' / 'child.py', """
        _base_ = ['../_base_/model.py', '../_base_/sched.py']
        model = dict(head=dict(num_classes=10))
        optim_wrapper = dict(optimizer=dict(lr=0.01))
    """)
    cfg = Config.fromfile(child)
    assert cfg.model.head.num_classes == 10
    assert cfg.model.head.in_channels == 2048          # inherited sibling key kept
    assert cfg.model.backbone.depth == 50
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.train_cfg.max_epochs == 100


def test_single_base_string_and_delete(cfg_tree):
    child = write(cfg_tree / 'child.py', """
        _base_ = '_base_/model.py'
        model = dict(backbone=dict(_delete_=True, type='LeNet5', num_classes=-1))
    """)
    cfg = Config.fromfile(child)
    assert cfg.model.backbone == {'type': 'LeNet5', 'num_classes': -1}   # depth/out_indices gone
    assert cfg.model.head.num_classes == 1000


def test_base_references_python_and_text_form(cfg_tree):
    child = write(cfg_tree / 'child.py', """
        _base_ = ['_base_/model.py']
        head_classes = _base_.model.head.num_classes // 10
        in_ch = {{_base_.model.head.in_channels}}
        model = dict(head=dict(num_classes=head_classes))
    """)
    cfg = Config.fromfile(child)
    assert cfg.head_classes == 100 and cfg.in_ch == 2048 and cfg.model.head.num_classes == 100


def test_assigning_to_a_base_value_changes_it_as_it_was_then(cfg_tree):
    """MMPretrain's mobileone-s1..s4 configs set `_base_.train_dataloader.dataset.pipeline = pipeline` and
    then change `pipeline` again; MMEngine keeps the value as it was at the assignment."""
    child = write(cfg_tree / 'child.py', """
        _base_ = ['_base_/model.py']
        backbone = dict(type='ResNet', depth=18, out_indices=(3,))
        _base_.model.backbone = backbone
        backbone['depth'] = 34
        _base_.model.head.in_channels = 512
        model = dict(head=dict(num_classes=10))
    """)
    cfg = Config.fromfile(child)
    assert cfg.model.backbone.depth == 18 and cfg.backbone.depth == 34
    assert cfg.model.head == {'type': 'LinearClsHead', 'num_classes': 10, 'in_channels': 512}


def test_an_openmmlab_import_of_a_missing_package_does_not_stop_the_config(cfg_tree, monkeypatch):
    """MMPretrain's replknet-31B_in1k.py imports build_classifier for its `__main__` block."""
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'mmpretrain' else find_spec(name, *a))
    child = write(cfg_tree / 'child.py', """
        from mmpretrain.models import build_classifier, build_backbone as bb
        model = dict(type='ResNet', depth=18)
        if __name__ == '__main__':
            build_classifier(model)
    """)
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {'model': {'type': 'ResNet', 'depth': 18}}
    used = write(cfg_tree / 'used.py', """
        from mmpretrain.models import build_classifier
        model = build_classifier(dict(type='ResNet'))
    """)
    with pytest.raises(ConfigError, match='uses mmpretrain.models.build_classifier, which it imports from a package '
                                          'that is not installed'):
        Config.fromfile(used)


def test_bad_base_reference_names_the_key(cfg_tree):
    child = write(cfg_tree / 'child.py', """
        _base_ = ['_base_/model.py']
        x = {{_base_.model.hed}}
    """)
    with pytest.raises(ConfigError, match="_base_.model.hed.*head"):
        Config.fromfile(child)


def test_cfg_options_values():
    assert parse_value('1') == 1 and parse_value('0.5') == 0.5
    assert parse_value('True') is True and parse_value('false') is False
    assert parse_value('None') is None and parse_value('none') is None
    assert parse_value('[1,2]') == [1, 2] and parse_value('(224, 224)') == (224, 224)
    assert parse_value('a,b') == ['a', 'b'] and parse_value('[a,b]') == ['a', 'b']
    assert parse_value('SGD') == 'SGD' and parse_value("'1'") == '1'
    assert parse_value('__import__("os").system("echo pwned")') == '__import__("os").system("echo pwned")'


def test_cfg_options_apply_nested_and_list_index(cfg_tree):
    child = write(cfg_tree / 'child.py', """
        _base_ = ['_base_/model.py', '_base_/sched.py']
        pipeline = [dict(type='Resize', scale=256), dict(type='CenterCrop', crop_size=224)]
    """)
    cfg = Config.fromfile(child, ['optim_wrapper.optimizer.lr=0.4', 'model.head.num_classes=10',
                                  'pipeline.1.crop_size=192', 'model.backbone.out_indices=(2,3)'])
    assert cfg.optim_wrapper.optimizer.lr == 0.4
    assert cfg.model.head.num_classes == 10
    assert cfg.pipeline[1].crop_size == 192
    assert cfg.model.backbone.out_indices == (2, 3)


def test_cfg_options_typo_gets_suggestion(cfg_tree):
    with pytest.raises(ConfigError, match="no key 'optim_wrapper.optimzer'.*optimizer"):
        Config.fromfile(cfg_tree / '_base_' / 'sched.py', ['optim_wrapper.optimzer.lr=0.1'])
    with pytest.raises(ConfigError, match='has no "="'):
        parse_cfg_options(['lr0.1'])


def test_missing_file_and_syntax_error(tmp_path):
    with pytest.raises(ConfigError, match='was not found'):
        Config.fromfile(tmp_path / 'nope.py')
    bad = write(tmp_path / 'bad.py', """
        model = dict(type='X'
        x = 1
    """)
    with pytest.raises(ConfigError, match=r'Syntax error in config .*bad.py, line \d'):
        Config.fromfile(bad)


def test_circular_base(tmp_path):
    write(tmp_path / 'a.py', "_base_ = 'b.py'\n")
    write(tmp_path / 'b.py', "_base_ = 'a.py'\n")
    with pytest.raises(ConfigError, match='Circular'):
        Config.fromfile(tmp_path / 'a.py')


def test_json_config_with_base(cfg_tree):
    p = cfg_tree / 'c.json'
    p.write_text(json.dumps({'_base_': '_base_/sched.py', 'train_cfg': {'max_epochs': 3}}))
    with pytest.raises(ConfigError, match='would run as code'):  # JSON is untrusted unless the caller trusts it
        Config.fromfile(p)
    cfg = Config.fromfile(p, untrusted=False)
    assert cfg.train_cfg.max_epochs == 3 and cfg.optim_wrapper.optimizer.type == 'SGD'


def test_shipped_config_by_name_and_dump_roundtrip(tmp_path):
    assert 'lenet5_digits' in list_configs()
    cfg = Config.fromfile('lenet5_digits')
    assert cfg.model.backbone.type == 'LeNet5'
    out = tmp_path / 'dump.py'
    cfg.dump(out)
    again = Config.fromfile(out)
    assert again.to_dict() == {k: v for k, v in cfg.to_dict().items()}


def test_top_level_typo_is_caught(tmp_path):
    p = write(tmp_path / 'c.py', "model = dict(type='X')\noptim_wraper = dict()\n")
    with pytest.raises(ConfigError, match="Did you mean 'optim_wrapper'"):
        Config.fromfile(p).check_keys()


def test_apply_options_bad_index():
    with pytest.raises(ConfigError, match='index'):
        apply_options({'a': [1, 2]}, {'a.5': 3})


def test_top_level_data_preprocessor_goes_to_the_model(tmp_path):
    """MMPretrain dataset bases put mean/std at the top level; MMEngine hands them to the model."""
    base = write(tmp_path / 'ds.py', "data_preprocessor = dict(mean=[1., 2., 3.], std=[4., 5., 6.], to_rgb=True)\n")
    child = write(tmp_path / 'c.py', "_base_ = 'ds.py'\nmodel = dict(type='ImageClassifier')\n")
    assert Config.fromfile(child).model_cfg()['data_preprocessor']['mean'] == [1., 2., 3.]
    own = write(tmp_path / 'own.py', "_base_ = 'ds.py'\nmodel = dict(type='X', data_preprocessor=dict(mean=[0.], std=[1.]))\n")
    assert Config.fromfile(own).model_cfg()['data_preprocessor'] == {'mean': [0.], 'std': [1.]}
    assert base.exists()


def test_recipe_model_gets_imagenet_normalisation():
    from fovea.apis import get_model
    model = get_model('resnet50_8xb32_in1k')
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([123.675, 116.28, 103.53])


def test_base_reference_in_a_comment_is_left_alone(cfg_tree):
    """MMPretrain's imagenet_bs64_clip_224.py comments out a `{{_base_.x}}` its bases do not define."""
    child = write(cfg_tree / 'commented.py', """
        _base_ = ['_base_/model.py']
        x = 1  # was {{_base_.model.nothing_here}}
        # policies={{_base_.rand_increasing_policies}},
        y = '#'  # {{_base_.missing}}
    """)
    cfg = Config.fromfile(child)
    assert cfg.x == 1 and cfg.y == '#'

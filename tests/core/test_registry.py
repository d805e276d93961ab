"""Registry lookups and build errors carry the key path and suggestions."""
import pytest
from torch import nn

from fovea.registry import MODELS, Registry, build, key_scope
from fovea.utils.errors import ConfigError


def test_unknown_type_suggests_and_names_path():
    with key_scope('model'):
        with pytest.raises(ConfigError, match=r"Unknown model type 'LeNet6' at model\.backbone\.type.*'LeNet5'"):
            MODELS.build(dict(type='ImageClassifier', backbone=dict(type='LeNet6')))


def test_unexpected_and_missing_arguments():
    with pytest.raises(ConfigError, match=r'Unexpected argument backbone\.num_clases=3 .*num_classes'):
        MODELS.build(dict(type='ImageClassifier', backbone=dict(type='LeNet5', num_clases=3)))
    with pytest.raises(ConfigError, match=r'Missing required argument head\.in_channels'):
        MODELS.build(dict(type='ImageClassifier', backbone=dict(type='LeNet5'),
                          head=dict(type='LinearClsHead', num_classes=3)))


def test_type_as_class_scope_prefix_and_import_path():
    from fovea.models.backbones.lenet import LeNet5
    assert isinstance(MODELS.build(dict(type=LeNet5)), LeNet5)
    assert isinstance(MODELS.build(dict(type='mmpretrain.LeNet5')), LeNet5)
    assert isinstance(MODELS.build(dict(type='torch.nn.Linear', in_features=2, out_features=3)), nn.Linear)


def test_constructor_errors_get_a_note_with_the_path():
    with pytest.raises(ValueError) as info:
        MODELS.build(dict(type='ImageClassifier', backbone=dict(type='LeNet5'),
                          head=dict(type='LinearClsHead', num_classes=0, in_channels=120)))
    assert any('head' in n for n in info.value.__notes__)


def test_missing_type_and_duplicate_registration():
    reg = Registry('thing')
    with pytest.raises(ConfigError, match='no "type" key'):
        build(dict(a=1), reg)

    @reg.register_module()
    class A:
        pass

    with pytest.raises(KeyError, match='already registered'):
        reg.register_module(name='A', module=type('A', (), {}))
    assert reg.get('A') is A and 'A' in reg

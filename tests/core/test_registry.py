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


# ---- types MMPretrain has and fovea does not: said so, never "Did you mean" a look-alike
@pytest.mark.parametrize('registry,name,kind', [
    ('MODELS', 'TNT', 'model'), ('MODELS', 'mmpretrain.RevVisionTransformer', 'model'),
    ('TRANSFORMS', 'Albu', 'transform'), ('METRICS', 'ShapeBiasMetric', 'metric'), ('HOOKS', 'SetAdaptiveMarginsHook', 'hook')])
def test_mmpretrain_type_fovea_lacks_is_not_called_a_typo(registry, name, kind):
    import fovea.registry as R
    with key_scope('model'), key_scope('backbone'), pytest.raises(ConfigError) as info:
        getattr(R, registry).get(name)
    msg = str(info.value)
    assert f"{name.split('.')[-1]!r} at model.backbone.type is an MMPretrain 1.2.0 {kind} that fovea does not " \
           f"implement yet" in msg and 'Did you mean' not in msg


def test_typos_still_get_suggestions():
    with pytest.raises(ConfigError, match="Unknown model type 'ResNett'. Did you mean 'ResNet'"):
        MODELS.get('ResNett')


@pytest.mark.parametrize('cfg', [dict(type='ConvNeXtV2', arch='atto'), dict(type='ConvNeXt-V2')])
def test_convnext_v2_names_point_at_use_grn_instead_of_suggesting_v1(cfg):
    with pytest.raises(ConfigError, match="ConvNeXt V2 name: .*type='ConvNeXt' with use_grn=True") as info:
        MODELS.build(cfg)
    assert 'Did you mean' not in str(info.value)


def test_convnext_v2_builds_with_grn():
    model = MODELS.build(dict(type='ConvNeXt', arch='atto', use_grn=True, layer_scale_init_value=0.))
    assert sum(p.numel() for p in model.parameters()) == 3_708_400 - 321_000   # MMPretrain's figure less the head
    assert model.stages[0][0].grn is not None and model.stages[0][0].gamma is None


def test_mmpretrain_zoo_name_fovea_lacks_is_said_so():
    from fovea.zoo import find_entry
    with pytest.raises(ConfigError, match="'tnt-small-p16_3rdparty_in1k' is a model of MMPretrain "
                                          "1.2.0's model zoo that fovea does not provide yet"):
        find_entry('tnt-small-p16_3rdparty_in1k')
    assert find_entry('convnext-v2-atto_fcmae-pre_3rdparty_in1k')['top1'] == 76.64
    with pytest.raises(ConfigError, match="Did you mean 'resnet50_8xb32_in1k'"):
        find_entry('resnet5_8xb32_in1k')


@pytest.mark.reference
def test_bundled_mmpretrain_names_match_mmpretrain():
    mmpretrain = pytest.importorskip('mmpretrain')
    import mmpretrain.registry as mm
    from mmpretrain.utils import register_all_modules

    from fovea.registry import mmpretrain_names
    register_all_modules(init_default_scope=False)
    table = mmpretrain_names()
    for name, names in table['registries'].items():
        assert names == sorted(getattr(mm, name).module_dict), name
    assert table['model_zoo'] == sorted(mmpretrain.list_models())

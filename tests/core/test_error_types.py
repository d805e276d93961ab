"""fovea's ConfigError is also what MMPretrain/MMEngine raise for the same check (issue 22 item 7)."""
import pickle

import pytest

from fovea.registry import MODELS
from fovea.utils.errors import ConfigError, ConfigKeyError, ConfigTypeError


def test_config_error_is_value_and_assertion_error():
    err = ConfigError('bad value')
    assert isinstance(err, ValueError) and isinstance(err, AssertionError)


@pytest.mark.parametrize('cls, base', [(ConfigKeyError, KeyError), (ConfigTypeError, TypeError)])
def test_like_subclasses_keep_the_message_and_pickle(cls, base):
    err = cls('a message with spaces')
    assert isinstance(err, ConfigError) and isinstance(err, base) and isinstance(err, AssertionError)
    assert str(err) == 'a message with spaces'  # not KeyError's repr-quoted form
    back = pickle.loads(pickle.dumps(err))  # dataloader workers send errors between processes
    assert type(back) is cls and str(back) == str(err)


def test_registry_errors_have_mmengine_types():
    with pytest.raises(KeyError, match="Unknown model type 'NoSuchNet'"):
        MODELS.build(dict(type='NoSuchNet'))
    with pytest.raises(KeyError, match='no "type" key'):
        MODELS.build(dict(depth=18))
    with pytest.raises(TypeError, match='Unexpected argument'):
        MODELS.build(dict(type='ResNet', depth=18, no_such_arg=1))
    with pytest.raises(TypeError, match='Missing required argument'):
        MODELS.build(dict(type='ResNet'))

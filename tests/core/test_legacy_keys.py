"""MMEngine/mmcv keys that fovea used to accept and ignore: custom_imports (imported, for trusted configs
only), launcher (said what fovea does instead), train_cfg.dynamic_intervals (see
tests/engine/test_validation_schedule.py) and the mmcv 1.x fp16 key (read as fp16 precision)."""
from __future__ import annotations

import json
import logging
import sys
import textwrap

import pytest

from fovea.config import Config
from fovea.utils.errors import ConfigError


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """An importable module that registers a model and leaves a marker file when imported."""
    name = f'fovea_plugin_{tmp_path.name.replace("-", "_")}'
    marker = tmp_path / 'imported'
    (tmp_path / f'{name}.py').write_text(textwrap.dedent(f"""
        open({str(marker)!r}, 'w').close()
        from torch import nn
        from fovea.registry import MODELS

        @MODELS.register_module(name={name + 'Net'!r})
        class PluginNet(nn.Module):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


def test_custom_imports_are_imported_for_python_configs(tmp_path, plugin):
    name, marker = plugin
    cfg_path = tmp_path / 'c.py'
    cfg_path.write_text(f"custom_imports = dict(imports=[{name!r}], allow_failed_imports=False)\n"
                        f"model = dict(type={name + 'Net'!r})\n")
    Config.fromfile(cfg_path)
    assert marker.exists()
    from fovea.registry import MODELS
    assert type(MODELS.build(dict(type=name + 'Net'))).__name__ == 'PluginNet'


def test_custom_imports_failures(tmp_path, caplog):
    cfg_path = tmp_path / 'c.py'
    cfg_path.write_text("custom_imports = dict(imports='no_such_module_xyz')\n")
    with pytest.raises(ConfigError, match="custom_imports could not import 'no_such_module_xyz'.*"
                                          "allow_failed_imports=True"):
        Config.fromfile(cfg_path)
    cfg_path.write_text("custom_imports = dict(imports=['no_such_module_xyz'], allow_failed_imports=True)\n")
    with caplog.at_level(logging.WARNING, logger='fovea'):
        Config.fromfile(cfg_path)
    assert any("'no_such_module_xyz' could not be imported" in r.getMessage() for r in caplog.records)


def test_untrusted_config_may_not_import_modules(tmp_path, plugin):
    name, marker = plugin
    cfg_path = tmp_path / 'c.json'
    cfg_path.write_text(json.dumps({'custom_imports': {'imports': [name]}}))
    with pytest.raises(ConfigError, match='would import and run Python modules.*--trust'):
        Config.fromfile(cfg_path)
    assert not marker.exists()
    Config.fromfile(cfg_path, untrusted=False)   # trusted by the caller
    assert marker.exists()


def _runner(tmp_path, **extra):
    from fovea.engine.runner import Runner
    cfg = Config.fromfile('lenet5_digits', [f'work_dir={tmp_path}'])
    cfg.update(extra)
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('launcher,warns', [('none', False), ('pytorch', False), ('slurm', True), ('mpi', True)])
def test_launcher_is_explained(tmp_path, caplog, monkeypatch, launcher, warns):
    monkeypatch.delenv('RANK', raising=False)
    with caplog.at_level(logging.WARNING, logger='fovea'):
        _runner(tmp_path, launcher=launcher)
    msgs = [r.getMessage() for r in caplog.records if 'launcher=' in r.getMessage()]
    assert bool(msgs) == warns
    if warns:
        assert "reads the process group from torchrun's environment" in msgs[0] and 'srun torchrun' in msgs[0]
    with pytest.raises(ConfigError, match="launcher='slurmm' is not one of"):
        _runner(tmp_path, launcher='slurmm')


def test_old_fp16_key_means_fp16_precision(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger='fovea'):
        runner = _runner(tmp_path, fp16=dict(loss_scale=512.))
    assert runner.env_cfg['precision'] == 'fp16'
    assert any("fp16={'loss_scale': 512.0} is the mmcv 1.x key" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match="contradicts env_cfg.precision='fp32'"):
        _runner(tmp_path, fp16=dict(loss_scale='dynamic'), env_cfg=dict(precision='fp32'))

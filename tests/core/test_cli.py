"""The command line: discovery, print-config, and one-paragraph errors instead of tracebacks."""
import subprocess
import sys

import pytest

from fovea.cli.main import main


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_print_config_resolves_bases_and_overrides(capsys):
    code, out, _ = run_cli(capsys, 'print-config', 'lenet5_digits', '--cfg-options', 'model.head.num_classes=5',
                           'train_cfg.max_epochs=3')
    assert code == 0
    assert "'num_classes': 5" in out and "'max_epochs': 3" in out
    assert 'default_hooks' in out                         # from _base_/default_runtime.py


def test_missing_config_is_one_clear_error(capsys):
    code, out, err = run_cli(capsys, 'train', 'lenet5_digitz')
    assert code == 1
    assert 'fovea train: error:' in err and "'lenet5_digits'" in err and 'Traceback' not in err


def test_unknown_type_in_config_names_key_path(capsys, tmp_path):
    code, _, err = run_cli(capsys, 'train', 'lenet5_digits', '--work-dir', str(tmp_path),
                           '--cfg-options', 'model.backbone.type=LeNet')
    assert code == 1 and 'model.backbone.type' in err and "'LeNet5'" in err


def test_python_dash_m_and_list_configs():
    out = subprocess.run([sys.executable, '-m', 'fovea', 'list-configs', 'lenet*'], capture_output=True, text=True)
    assert out.returncode == 0 and 'lenet5_digits' in out.stdout

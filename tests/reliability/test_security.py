"""Untrusted files cannot run code: malicious pickles in checkpoints are refused without executing
(also through resume and load_from), JSON/YAML configs (untrusted by default, in the CLI too) run nothing, downloads are verified by SHA-256.

Each attack payload, if it ran, would create a marker file; every test checks that it did not.
"""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path

import pytest
import torch

from _faults import tiny_options
from fovea.cli.main import main
from fovea.config import Config
from fovea.convert import load_weights, read_weights
from fovea.convert.core import load_pretrained
from fovea.engine.runner import Runner
from fovea.utils.download import download_to_cache, hash_from_filename
from fovea.utils.errors import CheckpointError, ConfigError


class Payload:
    """Unpickling this calls exec(), which would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f'open({str(self.marker)!r}, "w").write("pwned")',)


def _evil_files(tmp_path: Path, marker: Path) -> list[Path]:
    state = {'state_dict': {'backbone.features.0.weight': torch.zeros(6, 1, 5, 5)}, 'meta': {'epoch': 1, 'iter': 1},
             'x': Payload(marker)}
    zip_file, legacy, raw = tmp_path / 'evil_zip.pth', tmp_path / 'evil_legacy.pth', tmp_path / 'evil_raw.pth'
    torch.save(state, zip_file)
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    raw.write_bytes(pickle.dumps(state))
    return [zip_file, legacy, raw]


def test_malicious_pickle_is_refused_without_executing(tmp_path):
    marker = tmp_path / 'marker'
    files = _evil_files(tmp_path, marker)
    # sanity: the payload really runs when unpickled unsafely (in a copy, so the real marker stays absent)
    probe_dir = tmp_path / 'probe'
    probe_dir.mkdir()
    torch.load(_evil_files(probe_dir, probe_dir / 'marker')[0], weights_only=False)
    assert (probe_dir / 'marker').read_text() == 'pwned'
    model = torch.nn.Conv2d(1, 6, 5)
    for f in files:
        for load in (read_weights, lambda p: load_weights(model, p), lambda p: load_pretrained(model, str(p))):
            with pytest.raises(CheckpointError) as exc:
                load(f)
            assert str(f) in str(exc.value)
        assert not marker.exists()
    msg = ''
    try:
        read_weights(files[0])
    except CheckpointError as exc:
        msg = str(exc)
    assert 'refused to unpickle' in msg and 'could run code' in msg


def test_malicious_checkpoint_via_resume_and_load_from(tmp_path, capsys):
    marker = tmp_path / 'marker'
    evil = _evil_files(tmp_path, marker)[0]
    with pytest.raises(SystemExit) as exc:
        main(['train', 'lenet5_digits', '--resume', str(evil), '--cfg-options', *tiny_options(tmp_path / 'w1')])
    assert exc.value.code == 1 and 'refused to unpickle' in capsys.readouterr().err
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w2', extra=(f'load_from={evil}',))))
    with pytest.raises(CheckpointError, match='refused to unpickle'):
        runner.train()
    # resume=auto: a planted file in the work dir is refused as well (and no other checkpoint exists)
    planted = tmp_path / 'w3' / '20000101_000000' / 'epoch_9.pth'
    planted.parent.mkdir(parents=True)
    planted.write_bytes(evil.read_bytes())
    runner = Runner.from_cfg(Config.fromfile('lenet5_digits', tiny_options(tmp_path / 'w3', extra=('resume=True',))))
    with pytest.raises(CheckpointError, match='none of the 1 checkpoints'):
        runner.train()
    assert not marker.exists()


def test_yaml_config_cannot_construct_python_objects(tmp_path):
    pytest.importorskip('yaml')
    marker = tmp_path / 'marker'
    for tag in (f'!!python/object/apply:os.system ["touch {marker}"]', '!!python/name:os.system',
                f'!!python/object/new:subprocess.Popen [["touch", "{marker}"]]'):
        p = tmp_path / 'evil.yaml'
        p.write_text(f'model: {tag}\n')
        for untrusted in (False, True):
            with pytest.raises(ConfigError, match='Invalid YAML'):
                Config.fromfile(p, untrusted=untrusted)
    assert not marker.exists()


@pytest.mark.parametrize('fmt', ['json', 'yaml'])
def test_data_configs_refuse_import_paths_and_python_bases(tmp_path, fmt):
    pytest.importorskip('yaml')
    import yaml
    dump = (lambda d: json.dumps(d)) if fmt == 'json' else (lambda d: yaml.safe_dump(d))
    marker = tmp_path / 'marker'
    # a `type` that is an import path would be imported and called when the config is built
    p = tmp_path / f'evil.{fmt}'
    p.write_text(dump({'model': {'type': 'ImageClassifier', 'backbone': {'type': 'os.system',
                                                                          'command': f'touch {marker}'}}}))
    with pytest.raises(ConfigError, match=r"model\.backbone\.type='os.system' is a Python import path"):
        Config.fromfile(p, untrusted=True)
    # inheriting from a Python file next to it would run that file
    (tmp_path / 'evil_base.py').write_text(f'open({str(marker)!r}, "w").write("pwned")\nmodel = dict()\n')
    p.write_text(dump({'_base_': 'evil_base.py'}))
    with pytest.raises(ConfigError, match=r'evil_base.py \(a _base_ of .*would run as code'):
        Config.fromfile(p, untrusted=True)
    assert not marker.exists()
    with pytest.raises(ConfigError, match='is a Python config, which would run as code'):
        Config.fromfile(tmp_path / 'evil_base.py', untrusted=True)
    assert not marker.exists()
    # registered names, scoped names and fovea's shipped Python configs as bases are fine
    p.write_text(dump({'_base_': 'lenet5_digits', 'model': {'backbone': {'type': 'mmpretrain.LeNet5'}}}))
    cfg = Config.fromfile(p, untrusted=True)
    assert cfg.model.backbone.type == 'mmpretrain.LeNet5' and cfg.model.head.num_classes == 10


def _run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_cli_treats_json_configs_as_untrusted(tmp_path, capsys):
    """`fovea train evil.json` with a `type` naming os.system must not run the command (it did)."""
    marker = tmp_path / 'marker'
    evil = tmp_path / 'evil.json'
    evil.write_text(json.dumps({'_base_': 'lenet5_digits',
                                'model': {'_delete_': True, 'type': 'os.system', 'command': f'touch {marker}'}}))
    image = tmp_path / 'x.png'
    from PIL import Image
    Image.new('L', (8, 8)).save(image)
    for argv in (('train', evil, '--work-dir', tmp_path / 'w'), ('test', evil, tmp_path / 'none.pth'),
                 ('print-config', evil), ('infer', evil, image), ('export', evil, '--out', tmp_path / 'm.onnx')):
        code, _, err = _run_cli(capsys, *argv)
        assert code == 1 and "model.type='os.system' is a Python import path" in err, (argv, err)
        assert 'Traceback' not in err
    assert not marker.exists()
    # a nested config file (a distillation teacher's) must not smuggle in a Python file either
    (tmp_path / 'teacher.py').write_text(f'open({str(marker)!r}, "w")\nmodel = dict(type="ImageClassifier")\n')
    evil.write_text(json.dumps({'_base_': 'lenet5_digits', 'model': {
        'teacher': {'config': str(tmp_path / 'teacher.py')}}}))
    code, _, err = _run_cli(capsys, 'train', evil, '--work-dir', tmp_path / 'w')
    assert code == 1 and 'teacher.config=' in err and 'would run as code' in err
    assert not marker.exists()
    # --trust lifts the restriction (print-config builds nothing); --untrusted refuses Python configs
    evil.write_text(json.dumps({'model': {'type': 'my_package.MyNet'}}))
    code, out, _ = _run_cli(capsys, 'print-config', evil, '--trust')
    assert code == 0 and 'my_package.MyNet' in out
    own = tmp_path / 'own.py'
    own.write_text('model = dict(type="ImageClassifier")\n')
    code, _, err = _run_cli(capsys, 'print-config', own, '--untrusted')
    assert code == 1 and 'is a Python config, which would run as code' in err
    assert _run_cli(capsys, 'print-config', 'lenet5_digits', '--untrusted')[0] == 0  # shipped configs are fine


def test_config_stored_in_a_checkpoint_is_read_as_data(tmp_path, capsys):
    """`fovea reparameterize` builds the model from the checkpoint's meta.config: it ran that text as
    Python, so a downloaded checkpoint could run code."""
    marker = tmp_path / 'marker'
    for text in (f'open({str(marker)!r}, "w")\nmodel = dict(type="ImageClassifier")\n',
                 f'model = {{"type": "os.system", "command": "touch {marker}"}}\n'):
        torch.save({'meta': {'config': text}, 'state_dict': {'w': torch.zeros(1)}}, tmp_path / 'evil.pth')
        code, _, err = _run_cli(capsys, 'reparameterize', tmp_path / 'evil.pth', tmp_path / 'out.pth')
        assert code == 1 and 'evil.pth (meta.config)' in err, err
        assert not marker.exists() and not (tmp_path / 'out.pth').exists()


def test_python_configs_do_run_code_as_documented(tmp_path):
    marker = tmp_path / 'marker'
    p = tmp_path / 'trusted.py'
    p.write_text(f'open({str(marker)!r}, "w").write("ran")\nmodel = dict(type="ImageClassifier")\n')
    Config.fromfile(p)
    assert marker.read_text() == 'ran'
    doc = (Path(__file__).resolve().parents[2] / 'docs' / 'security.md').read_text()
    assert 'Python configs run as code' in doc and 'weights_only' in doc


def test_downloads_are_verified_by_sha256(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv('FOVEA_HOME', str(tmp_path / 'cache'))
    src = tmp_path / 'remote'
    src.mkdir()
    payload = b'weights' * 1000
    digest = hashlib.sha256(payload).hexdigest()
    (src / 'w.pth').write_bytes(payload)
    url = (src / 'w.pth').as_uri()
    # wrong checksum: error, and nothing enters the cache
    with pytest.raises(CheckpointError, match=f'has SHA-256 {digest}, expected deadbeef.*not kept'):
        download_to_cache(url, sha256='deadbeef')
    cache = tmp_path / 'cache' / 'checkpoints'
    assert not cache.exists() or list(cache.iterdir()) == []
    # right checksum (a prefix is enough): cached
    path = download_to_cache(url, sha256=digest[:8].upper())
    assert path.read_bytes() == payload and path.parent == cache
    # the cached copy is damaged later: it is detected and downloaded again
    path.write_bytes(b'garbage')
    assert download_to_cache(url, sha256=digest).read_bytes() == payload
    # the hash prefix in OpenMMLab / torch.hub file names is checked when no checksum is recorded
    named = src / f'resnet_20210831-{digest[:8]}.pth'
    named.write_bytes(payload)
    assert hash_from_filename(named.name) == digest[:8] and hash_from_filename('model-20220218.pth') is None
    assert download_to_cache(named.as_uri()).read_bytes() == payload
    forged = src / 'resnet_20210831-0badc0de.pth'
    forged.write_bytes(payload)
    with pytest.raises(CheckpointError, match='expected 0badc0de'):
        download_to_cache(forged.as_uri())
    # no checksum at all: works, with a warning
    (src / 'plain.pth').write_bytes(payload)
    with caplog.at_level(logging.WARNING, logger='fovea'):
        download_to_cache((src / 'plain.pth').as_uri())
    assert 'integrity was not verified' in caplog.text
    assert sorted(p.name for p in cache.iterdir()) == sorted(['w.pth', named.name, 'plain.pth'])

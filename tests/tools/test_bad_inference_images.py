"""`fovea infer`, `fovea cam` and the inference API read images with the training loader's decoder:
a truncated JPEG or a decompression-bomb PNG is an error naming the file (no traceback), and
`--skip-bad` (``skip_bad=True``) goes on over a folder and reports what it skipped."""
from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pytest
from PIL import Image

from fovea.apis.inference import ImageClassificationInferencer
from fovea.cli.main import main
from fovea.utils.errors import DataError


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG whose header claims width x height pixels (a few hundred bytes on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, 'big') + kind + data + zlib.crc32(kind + data).to_bytes(4, 'big')
    ihdr = width.to_bytes(4, 'big') + height.to_bytes(4, 'big') + bytes([1, 0, 0, 0, 0])
    rows = zlib.compress(b'\0' * (1 + (width + 7) // 8) * 16)  # only the first rows: decoding would fail late
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', rows) + chunk(b'IEND', b'')


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('imgs')
    rng = np.random.RandomState(0)
    for i in range(2):
        Image.fromarray((rng.rand(32, 32) * 255).astype('uint8')).save(root / f'good_{i}.png')
    buf = io.BytesIO()
    Image.fromarray((rng.rand(64, 64, 3) * 255).astype('uint8')).save(buf, 'JPEG')
    (root / 'bad_truncated.jpg').write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    (root / 'bad_bomb.png').write_bytes(_bomb_png(40_000, 40_000))
    return root


def _cli(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_infer_names_the_bad_file(folder, capsys):
    code, _, err = _cli(capsys, 'infer', 'lenet5_digits', folder)
    assert code == 1 and 'bad_bomb.png' in err and 'decompression bomb' in err and 'Traceback' not in err
    code, _, err = _cli(capsys, 'infer', 'lenet5_digits', folder / 'bad_truncated.jpg')
    assert code == 1 and 'bad_truncated.jpg' in err and 'truncated' in err and 'Traceback' not in err


def test_infer_skip_bad_goes_on_and_reports(folder, capsys, tmp_path):
    out = tmp_path / 'preds.json'
    code, stdout, err = _cli(capsys, 'infer', 'lenet5_digits', folder, '--skip-bad', '--out', out,
                             '--show-dir', tmp_path / 'show')
    assert code == 0, err
    assert 'good_0.png:' in stdout and 'good_1.png:' in stdout and 'Skipped 2 unreadable image(s)' in stdout
    data = json.loads(out.read_text())
    assert [p['img_path'].rsplit('/', 1)[1] for p in data['predictions']] == ['good_0.png', 'good_1.png']
    assert sorted(s['img_path'].rsplit('/', 1)[1] for s in data['skipped']) == ['bad_bomb.png', 'bad_truncated.jpg']
    assert len(list((tmp_path / 'show').glob('*.png'))) == 2


def test_cam_names_the_bad_file(folder, capsys, tmp_path):
    code, _, err = _cli(capsys, 'cam', 'lenet5_digits', folder / 'bad_truncated.jpg', '--out', tmp_path / 'c.png')
    assert code == 1 and 'bad_truncated.jpg' in err and 'Traceback' not in err
    two = tmp_path / 'two'
    two.mkdir()
    for name in ('good_0.png', 'good_1.png'):
        (two / name).write_bytes((folder / name).read_bytes())
    code, _, err = _cli(capsys, 'cam', 'lenet5_digits', two, '--out', tmp_path / 'c.png')
    assert code == 1 and 'explains one image' in err and 'Traceback' not in err


def test_python_api_same_errors(folder):
    inf = ImageClassificationInferencer('lenet5_digits', device='cpu')
    with pytest.raises(DataError, match='bad_truncated.jpg'):
        inf(folder / 'bad_truncated.jpg')
    with pytest.raises(DataError, match='bad_bomb.png.*decompression bomb'):
        inf(folder / 'bad_bomb.png')
    results = inf(folder, skip_bad=True)
    assert len(results) == 2 and len(inf.skipped) == 2
    assert inf(folder / 'good_0.png')[0]['pred_scores'].shape == (10,)

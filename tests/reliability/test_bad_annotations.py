"""Annotation files fuzzed with hypothesis: every malformed line is an error naming the file and
the line number, and a file that parses never yields a label other than the one written.

The oracle is the documented format: one ``relative/path label`` per line, the label being the
last space-separated field (paths may contain spaces), blank lines ignored.
"""
from __future__ import annotations

import itertools
import re

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fovea.data.datasets.custom import parse_ann_file  # noqa: E402
from fovea.utils.errors import DataError  # noqa: E402

COUNTER = itertools.count()

path_chars = st.text(alphabet='abcxyz0189/._-', min_size=1, max_size=12)
valid_path = st.builds(lambda a, b, sp: f'{a} {b}' if sp else a, path_chars, path_chars, st.booleans())
label = st.one_of(st.integers(0, 999), st.integers(-5, -1), st.integers(10**18, 10**25))
valid_line = st.builds(lambda p, n: f'{p} {n}', valid_path, label)
junk_line = st.text(alphabet='ab01 .-+_x/', min_size=0, max_size=14)
line = st.one_of(valid_line, valid_line, valid_line, junk_line)


def oracle(text_lines: list[str]) -> tuple[list[tuple[bytes, int]], int | None]:
    """(expected samples, number of the first malformed line or None)."""
    out = []
    for no, ln in enumerate(text_lines, 1):
        s = ln.strip()
        if not s:
            continue
        p, sep, tok = s.rpartition(' ')
        p = p.rstrip()
        try:
            value = int(tok)
        except ValueError:
            value = None
        if not sep or not p or value is None or not -2**63 <= value < 2**63:
            return out, no
        out.append((p.encode(), value))
    return out, None


def test_fuzzed_annotation_files(tmp_path):
    """At least 100 generated files: every malformed line is reported with file and line number,
    every accepted file gives exactly the labels written."""
    tried = 0

    @settings(max_examples=150, deadline=None)
    @given(lines=st.lists(line, min_size=1, max_size=12), crlf=st.booleans(), final_newline=st.booleans())
    def check(lines, crlf, final_newline):
        nonlocal tried
        tried += 1
        f = tmp_path / f'ann_{next(COUNTER)}.txt'
        nl = '\r\n' if crlf else '\n'
        f.write_bytes((nl.join(lines) + (nl if final_newline else '')).encode())
        expected, bad = oracle(lines)
        try:
            paths, labels = parse_ann_file(str(f))
        except DataError as exc:
            m = re.search(r', line (\d+):', str(exc))
            assert str(f) in str(exc) and m, str(exc)
            assert bad is not None, f'valid file rejected: {exc}'
            assert int(m.group(1)) == bad, (str(exc), lines)
            return
        assert bad is None, f'line {bad} ({lines[bad - 1]!r}) accepted: {list(zip(paths, labels.tolist()))}'
        assert list(zip(paths, labels.tolist())) == expected

    check()
    assert tried >= 100, tried


def test_misaligned_fields_are_not_paired_up_silently(tmp_path):
    """'a 1 2' + '3': four tokens in two lines; pairing tokens would give a wrong label."""
    f = tmp_path / 'ann.txt'
    f.write_text('a 1 2\n3\n')
    with pytest.raises(DataError, match=rf'{re.escape(str(f))}, line 2: cannot parse'):
        parse_ann_file(str(f))


def test_annotation_paths_cannot_escape_the_image_folder(tmp_path):
    from fovea.data.datasets.custom import CustomDataset
    (tmp_path / 'imgs').mkdir()
    ann = tmp_path / 'ann.txt'
    for bad in ('../secret.png', '/etc/passwd', 'a/../../secret.png', 'C:\\Windows\\x.png'):
        ann.write_text(f'ok/a.png 0\n\n{bad} 1\n')
        with pytest.raises(DataError, match=rf'{re.escape(str(ann))}, line 3: the image path .* points outside'):
            CustomDataset(data_prefix=str(tmp_path / 'imgs'), ann_file=str(ann))
    # explicitly allowed, or staying inside after normalisation: accepted
    ann.write_text('ok/a.png 0\n../shared/b.png 1\n')
    ds = CustomDataset(data_prefix=str(tmp_path / 'imgs'), ann_file=str(ann), allow_outside_root=True)
    assert ds.get_data_info(1)['img_path'].endswith('../shared/b.png')
    ann.write_text('ok/../b.png 0\nx:y.png 1\n')
    assert len(CustomDataset(data_prefix=str(tmp_path / 'imgs'), ann_file=str(ann))) == 2

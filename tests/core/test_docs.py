"""The documentation stays true: links resolve, commands exist, translations match.

* README.md and README_zh-CN.md, and every docs/X.md and docs/zh_cn/X.md pair, hold the
  same code blocks (comments may be translated, the code may not).
* Every relative link in README*.md and docs/**/*.md points at an existing file.
* Every `fovea <command> ...` line of a shell block parses with that command's real argument
  parser (unknown commands or options fail), and every shipped config or model name used in
  a command or mentioned in backticks exists. Nothing is run.
* Every Python block is valid Python.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / 'docs'
ZH = DOCS / 'zh_cn'
PAGES = sorted([*ROOT.glob('README*.md'), *DOCS.rglob('*.md')])
SHELL = ('bash', 'sh', 'shell', 'console')

_FENCE = re.compile(r'^```(\w*)[^\n]*\n(.*?)^```', re.M | re.S)
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
# backticked names that look like config/model names: resnet50_8xb32_in1k, lenet5_digits, vit-tiny-p4_cifar10
_NAME = re.compile(r'`([a-z][\w.-]*_(?:\d+xb\d+[\w.-]*|in1k[\w.-]*|digits|cifar10|cifar100))`')


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, plus 4-space indented blocks as 'bash' when they
    start with a command (docs/training.md writes some commands that way)."""
    out = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    outside = _FENCE.sub('', text)
    for m in re.finditer(r'(?:^|\n\n)((?:    \S[^\n]*\n?(?:        [^\n]*\n?)*)+)', outside):
        body = '\n'.join(line[4:] for line in m.group(1).splitlines())
        if re.match(r'(fovea|torchrun|python|pip|srun)\b', body):
            out.append(('bash', body))
    return out


def strip_comments(body: str, lang: str) -> list[str]:
    """The code lines of a block without comments or blank lines (comments may be translated)."""
    out = []
    for line in body.splitlines():
        if lang in SHELL or lang == 'python':
            line = re.sub(r'(^|\s)#.*$', '', line) if not line.lstrip().startswith('#!') else line
        line = line.rstrip()
        if line.strip():
            out.append(line)
    return out


def code_of(path: Path) -> list[tuple[str, list[str]]]:
    return [(lang, strip_comments(body, lang)) for lang, body in blocks(path.read_text(encoding='utf-8'))
            if lang in SHELL + ('python',)]


def fovea_commands(path: Path) -> list[str]:
    """Every `fovea ...` invocation in the shell blocks (also `python -m fovea`, `torchrun ... -m fovea`)."""
    cmds = []
    for lang, body in blocks(path.read_text(encoding='utf-8')):
        if lang not in SHELL:
            continue
        text = re.sub(r'\\\n\s*', ' ', body)
        for line in text.splitlines():
            line = re.sub(r'(^|\s)#.*$', '', line).strip()
            for part in re.split(r'\s*(?:&&|\|\||;|\|)\s*', line):
                m = re.search(r'(?:^|\s)(?:-m\s+)?fovea\s+(.*)$', part)
                if m and (part.startswith('fovea') or '-m fovea' in part):
                    cmds.append(m.group(1))
    return cmds


# ------------------------------------------------------------------ translations
def test_readme_translation_has_the_same_commands():
    en, zh = ROOT / 'README.md', ROOT / 'README_zh-CN.md'
    assert code_of(zh) == code_of(en), ('README_zh-CN.md must hold the same code blocks as README.md (comments may '
                                        'be translated): copy the changed block there')
    quick = re.compile(r'<!-- quickstart -->\n(.*?)<!-- /quickstart -->', re.S)
    assert quick.search(zh.read_text()).group(1) == quick.search(en.read_text()).group(1)
    assert 'README_zh-CN.md' in en.read_text().split('\n## ')[0]
    assert 'README.md' in zh.read_text().split('\n## ')[0]


ZH_PAGES = sorted(ZH.glob('*.md'))


@pytest.mark.parametrize('zh', ZH_PAGES, ids=lambda p: p.name)
def test_translated_page_has_the_same_code_and_language_links(zh):
    en = DOCS / zh.name
    assert en.is_file(), f'{_rel(zh)} translates {_rel(en)}, which does not exist'
    assert code_of(zh) == code_of(en), (f'code blocks of {_rel(zh)} differ from {_rel(en)}: copy the changed block '
                                        f'into the translation (comments may be translated)')
    head_en, head_zh = en.read_text().splitlines()[:3], zh.read_text().splitlines()[:3]
    assert any(f'(zh_cn/{en.name})' in line for line in head_en), f'{_rel(en)}: no link to the Chinese page on top'
    assert any(f'(../{en.name})' in line for line in head_zh), f'{_rel(zh)}: no link to the English page on top'


@pytest.mark.parametrize('index', [DOCS / 'index.md', ZH / 'index.md'], ids=lambda p: _rel(p))
def test_index_links_every_page(index):
    text = index.read_text()
    for page in sorted(index.parent.glob('*.md')):
        if page != index:
            assert f']({page.name})' in text, f'{_rel(index)} does not link {page.name}'


# ------------------------------------------------------------------ links
@pytest.mark.parametrize('page', PAGES, ids=_rel)
def test_relative_links_point_at_files(page):
    bad = []
    for target in _LINK.findall(page.read_text(encoding='utf-8')):
        if re.match(r'[a-z]+:', target) or target.startswith('#'):
            continue
        path = (page.parent / target.split('#')[0]).resolve()
        if not path.exists():
            bad.append(target)
    assert not bad, f'{_rel(page)} links to missing files: {bad}'


def test_link_check_finds_a_broken_link(tmp_path):
    page = tmp_path / 'x.md'
    page.write_text('[a](missing.md) [b](https://example.com) [c](#top)\n')
    targets = [t for t in _LINK.findall(page.read_text()) if not re.match(r'[a-z]+:', t) and t[0] != '#']
    assert targets == ['missing.md'] and not (tmp_path / 'missing.md').exists()


# ------------------------------------------------------------------ commands and names
def _known_names() -> set[str]:
    from fovea.config import list_configs
    from fovea.zoo import model_index
    return set(list_configs()) | set(model_index())


def _check_command(parser, known: set[str], cmd: str) -> str | None:
    """None if `fovea <cmd>` parses and names only existing configs/models, else the problem."""
    try:
        args = shlex.split(cmd)
    except ValueError as exc:
        return f'{cmd!r}: {exc}'
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # --version and --help exit with 0
        return None if exc.code == 0 else f'`fovea {cmd}` does not parse (unknown command or option)'
    for key in ('config', 'model'):
        value = getattr(ns, key, None)
        # files (paths, .py/.json/.yaml) are the reader's own, CONFIG-style words and $shell variables
        # are placeholders; bare names must be shipped
        if isinstance(value, str) and '/' not in value and not re.search(r'\.(py|json|ya?ml)$', value) \
                and not re.fullmatch(r'[A-Z_]+|\$\w+|\$\{\w+\}', value) and value not in known:
            return f'`fovea {cmd}`: {value!r} is neither a shipped config nor a model name'
    return None


def test_every_documented_fovea_command_parses_and_names_real_configs():
    from fovea.cli.main import build_parser
    parser, known = build_parser(), _known_names()
    problems, count = [], 0
    for page in PAGES:
        for cmd in fovea_commands(page):
            count += 1
            err = _check_command(parser, known, cmd)
            if err:
                problems.append(f'{_rel(page)}: {err}')
    assert count > 50  # the extraction finds the commands
    assert not problems, '\n'.join(problems)


def test_command_check_catches_wrong_commands(tmp_path):
    from fovea.cli.main import build_parser
    parser, known = build_parser(), _known_names()
    assert _check_command(parser, known, 'train lenet5_digits --cfg-options train_cfg.max_epochs=1') is None
    assert _check_command(parser, known, 'train my_config.py --resume') is None
    assert 'parse' in _check_command(parser, known, 'train lenet5_digits --epochs 3')
    assert 'parse' in _check_command(parser, known, 'get-flops lenet5_digits')
    assert 'neither' in _check_command(parser, known, 'test resnet50_8xb32_in2k ckpt.pth')
    assert _check_command(parser, known, 'test CONFIG CKPT') is None           # placeholders
    assert _check_command(parser, known, 'train $cfg --work-dir $D') is None   # shell variables
    assert _check_command(parser, known, '--version') is None
    sample = '```bash\npip install . && fovea train x.py  # comment\ntorchrun --nproc_per_node=8 -m fovea \\\n' \
             '    test y.py c.pth\n```\n\n    fovea list-configs\n'
    page = tmp_path / 'sample.md'
    page.write_text(sample)
    assert fovea_commands(page) == ['train x.py', 'test y.py c.pth', 'list-configs']


def test_commands_named_in_prose_exist():
    from fovea.cli.main import _commands
    commands = set(_commands())
    unknown = [f'{_rel(p)}: fovea {w}' for p in PAGES
               for w in re.findall(r'`fovea ([a-z][\w-]*)', p.read_text(encoding='utf-8')) if w not in commands]
    assert not unknown, f'`fovea <command>` in the text that does not exist: {unknown}'


def test_config_names_mentioned_exist():
    known = _known_names()
    missing = [f'{_rel(p)}: {n}' for p in PAGES for n in _NAME.findall(p.read_text(encoding='utf-8'))
               if n not in known]
    assert not missing, f'names that are neither shipped configs nor models: {missing}'


@pytest.mark.parametrize('page', PAGES, ids=_rel)
def test_python_blocks_are_valid_python(page):
    import ast
    for lang, body in blocks(page.read_text(encoding='utf-8')):
        if lang == 'python':
            ast.parse(body, filename=_rel(page))

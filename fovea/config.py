"""MMPretrain-style configuration files.

A config is a Python file of plain dicts (or a JSON/YAML file, read without
executing anything). Features, with MMEngine's semantics:

* ``_base_ = 'x.py'`` or ``_base_ = ['a.py', 'b.py']``: files resolved relative to
  the config (or, failing that, to fovea's shipped configs), merged recursively
  in order; the child's keys override the bases'.
* ``_delete_=True`` inside a dict replaces the inherited dict instead of merging.
* Base values can be read: ``_base_.model.backbone.depth`` in Python, or the
  text form ``{{_base_.model.backbone.depth}}``; and changed: ``_base_.train_dataloader.dataset.pipeline
  = [...]`` in a Python file replaces that base value (a copy of the value at that line).
* ``--cfg-options key.sub=value``: see :func:`parse_cfg_options`.

Python configs run as code; load configs from untrusted sources as JSON or YAML with
``Config.fromfile(path, untrusted=True)``, which runs nothing (see docs/security.md).
"""
from __future__ import annotations

import ast
import copy
import json
import os
import pprint
import re
import types
from pathlib import Path
from typing import Any, Iterable, Mapping

from fovea.utils.errors import ConfigError, did_you_mean

CONFIG_ROOT = Path(__file__).parent / 'configs'
DELETE_KEY = '_delete_'
BASE_KEY = '_base_'

#: top-level keys the Runner understands (MMPretrain's vocabulary)
KNOWN_TOP_LEVEL = (
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator',
    'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg', 'default_hooks', 'custom_hooks',
    'auto_scale_lr', 'randomness', 'load_from', 'resume', 'work_dir', 'env_cfg', 'log_level', 'log_processor',
    'visualizer', 'default_scope', 'launcher', 'experiment_name', 'custom_imports', 'data_preprocessor',
    'find_unused_parameters')


class ConfigDict(dict):
    """A dict whose keys can also be read and written as attributes."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        for k, v in dict(*args, **kwargs).items():
            self[k] = _wrap(v)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f'config has no key {name!r}.{did_you_mean(name, self.keys())}') from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = _wrap(value)

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __deepcopy__(self, memo: dict) -> 'ConfigDict':
        return type(self)({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> dict:
        return _unwrap(self)


def _wrap(v: Any) -> Any:
    if isinstance(v, ConfigDict):
        return v
    if isinstance(v, Mapping):
        return ConfigDict(v)
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_wrap(x) for x in v)
    return v


def _unwrap(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _unwrap(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unwrap(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_unwrap(x) for x in v)
    return v


def merge(base: Any, child: Any) -> Any:
    """Merge ``child`` into ``base`` recursively; dicts merge, everything else replaces."""
    if isinstance(child, Mapping) and isinstance(base, Mapping) and not child.get(DELETE_KEY, False):
        out = dict(base)
        for k, v in child.items():
            if k == DELETE_KEY:
                continue
            out[k] = merge(base[k], v) if k in base else _strip_delete(v)
        return out
    return _strip_delete(child)


def _strip_delete(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _strip_delete(x) for k, x in v.items() if k != DELETE_KEY}
    if isinstance(v, list):
        return [_strip_delete(x) for x in v]
    return v


def resolve_config_path(name: str | os.PathLike, relative_to: Path | None = None) -> Path:
    """Find a config by path, relative path or shipped name (``lenet5_digits``)."""
    p = Path(name)
    candidates = []
    if relative_to is not None:
        candidates.append(relative_to / p)
    candidates.append(p)
    candidates.append(CONFIG_ROOT / p)
    if not p.suffix:
        candidates += [c.with_suffix('.py') for c in list(candidates)]
    for c in candidates:
        if c.is_file():
            return c
    if not p.suffix or p.parent == Path('.'):
        stem = p.stem
        shipped = [q for q in CONFIG_ROOT.rglob('*.py') if q.stem == stem and '_base_' not in q.parts]
        if shipped:
            return shipped[0]
    names = list_configs()
    raise ConfigError(
        f'Config file {str(name)!r} was not found (looked in {", ".join(str(c) for c in candidates[:3])} '
        f'and among the shipped configs).{did_you_mean(p.stem, names)} '
        f'Pass the path of a config file or the name of a shipped one; `fovea list-configs` lists them.')


def list_configs() -> list[str]:
    """Names of the shipped (non-base) configs."""
    return sorted(q.stem for q in CONFIG_ROOT.rglob('*.py') if '_base_' not in q.parts and q.name != '__init__.py')


_BASE_VAR = re.compile(r'\{\{\s*_base_\.([\w\.]+)\s*\}\}')


def _lookup(cfg: Mapping, dotted: str, filename: Path) -> Any:
    cur: Any = cfg
    for part in dotted.split('.'):
        if isinstance(cur, (list, tuple)) and part.isdigit():
            cur = cur[int(part)]
        elif isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            raise ConfigError(f'{filename}: `_base_.{dotted}` does not exist in the base configs.'
                              + (did_you_mean(part, cur.keys()) if isinstance(cur, Mapping) else ''))
    return cur


def _in_comment(text: str, pos: int) -> bool:
    """Whether ``pos`` lies in a ``#`` comment (references in comments are left alone, as MMEngine does)."""
    line = text[text.rfind('\n', 0, pos) + 1:pos]
    quote = None
    for ch in line:
        if quote:
            quote = None if ch == quote else quote
        elif ch in '\'"':
            quote = ch
        elif ch == '#':
            return True
    return False


# OpenMMLab packages a config file may import from (MMPretrain's replknet-31B_in1k.py imports
# build_classifier for its `if __name__ == '__main__'` block); fovea reads such files without them
_OPENMMLAB = ('mmpretrain', 'mmcls', 'mmengine', 'mmcv')


class _MissingImport:
    """What a config's ``from mmpretrain... import name`` gives where that package is not installed: using
    it is a ConfigError (the config itself is fine as long as only code under ``__main__`` uses it)."""

    def __init__(self, name: str, filename: Path):
        self.name, self.filename = name, filename

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(f'{self.filename} uses {self.name}, which it imports from a package that is not installed; '
                          f'fovea reads the config without it, but cannot run that code.')


def _stand_in_for_missing_import(node: ast.stmt) -> ast.stmt:
    """``from mmpretrain.x import a`` -> ``a = __fovea_missing__('mmpretrain.x.a')`` when mmpretrain is absent."""
    if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] in _OPENMMLAB):
        return node
    import importlib.util
    if importlib.util.find_spec(node.module.split('.')[0]) is not None:
        return node
    stand_in = ast.Assign(
        targets=[ast.Tuple([ast.Name(a.asname or a.name, ast.Store()) for a in node.names], ast.Store())],
        value=ast.Tuple([ast.Call(ast.Name('__fovea_missing__', ast.Load()), [ast.Constant(f'{node.module}.{a.name}')],
                                  []) for a in node.names], ast.Load()))
    return ast.copy_location(stand_in, node)


def _read_file(filename: Path, base: dict) -> dict:
    """Read one config file into a plain dict; ``base`` is its merged bases (for references; a Python
    file's assignments to ``_base_.x.y`` change it in place)."""
    suffix = filename.suffix
    text = filename.read_text(encoding='utf-8')
    if suffix == '.py':
        # text substitution of {{_base_.x}} by the repr of the base value
        text = _BASE_VAR.sub(lambda m: m.group(0) if _in_comment(text, m.start()) else repr(
            _unwrap(_lookup(base, m.group(1), filename))), text)
        try:
            tree = ast.parse(text, str(filename))
            # the file's own `_base_ = [...]` was read by _peek_bases; drop it so `_base_.x` reads the bases
            tree.body = [n for n in tree.body if not (isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == BASE_KEY for t in n.targets))]
            tree.body = [_stand_in_for_missing_import(n) for n in tree.body]
            ast.fix_missing_locations(tree)
            code = compile(tree, str(filename), 'exec')
        except SyntaxError as exc:
            raise ConfigError(f'Syntax error in config {filename}, line {exc.lineno}: {exc.msg}. '
                              f'Fix the line: {(exc.text or "").strip()!r}') from None
        namespace: dict[str, Any] = {'__file__': str(filename), '__name__': '__fovea_config__',
                                     '__fovea_missing__': lambda name: _MissingImport(name, filename)}
        if base:
            namespace[BASE_KEY] = ConfigDict(base)
        try:
            exec(code, namespace)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f'Config {filename} failed to run: {type(exc).__name__}: {exc}') from exc
        view = namespace.get(BASE_KEY)
        if base and isinstance(view, ConfigDict):
            # `_base_.a.b = value` edits the bases (MMEngine); the value is copied when assigned
            base.clear()
            base.update(_unwrap(view))
        out = {}
        for k, v in namespace.items():
            if k.startswith('__') or isinstance(v, (types.ModuleType, types.FunctionType, type, _MissingImport)):
                continue
            if k == BASE_KEY and isinstance(v, ConfigDict):
                continue  # the injected view of the bases, not the file's own _base_ list
            out[k] = _unwrap(v)
        return out
    if suffix == '.json':
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f'Invalid JSON in config {filename}, line {exc.lineno}: {exc.msg}.') from None
    if suffix in ('.yaml', '.yml'):
        from fovea.utils.errors import require
        yaml = require('yaml', 'tools', 'YAML configs')
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f'Invalid YAML in config {filename}: {exc}') from None
    raise ConfigError(f'Config {filename} has the unsupported extension {suffix!r}; use .py, .json or .yaml.')


def _peek_bases(filename: Path) -> list[str]:
    """The ``_base_`` entries of a file, read without running it (Python) or by parsing (JSON/YAML)."""
    if filename.suffix == '.py':
        try:
            tree = ast.parse(filename.read_text(encoding='utf-8'), str(filename))
        except SyntaxError as exc:
            raise ConfigError(f'Syntax error in config {filename}, line {exc.lineno}: {exc.msg}. '
                              f'Fix the line: {(exc.text or "").strip()!r}') from None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_KEY
                                                    for t in node.targets):
                try:
                    val = ast.literal_eval(node.value)
                except ValueError:
                    raise ConfigError(f'{filename}: `_base_` must be a string or a list of strings.') from None
                return [val] if isinstance(val, str) else list(val)
        return []
    data = _read_file(filename, {})
    val = data.get(BASE_KEY, [])
    return [val] if isinstance(val, str) else list(val)


def load_file(filename: str | os.PathLike, _stack: tuple[Path, ...] = (), untrusted: bool = False) -> dict:
    """Read a config file with its ``_base_`` chain into a merged plain dict.

    ``untrusted=True``: run no code from the file or its bases: only JSON/YAML files, plus
    Python bases from fovea's shipped configs, are accepted.
    """
    path = resolve_config_path(filename) if not _stack else Path(filename)
    path = path.resolve()
    if untrusted and path.suffix == '.py' and CONFIG_ROOT.resolve() not in path.parents:
        via = f' (a _base_ of {_stack[-1]})' if _stack else ''
        raise ConfigError(f'{path}{via} is a Python config, which would run as code; untrusted configs must be JSON '
                          f'or YAML and may inherit only from JSON/YAML files or fovea\'s shipped configs. If you '
                          f'trust {path.name}, pass --trust (or load it with untrusted=False).')
    if path in _stack:
        chain = ' -> '.join(str(p) for p in _stack + (path,))
        raise ConfigError(f'Circular _base_ inheritance: {chain}')
    base: dict = {}
    for b in _peek_bases(path):
        try:
            bpath = resolve_config_path(b, path.parent)
        except ConfigError as exc:
            raise ConfigError(f'{path}: base config {b!r} was not found. {exc}') from None
        base = merge(base, load_file(bpath, _stack + (path,), untrusted))
    own = _read_file(path, base)
    own.pop(BASE_KEY, None)
    return merge(base, own)


# ---------------------------------------------------------------- cfg-options
def parse_value(text: str) -> Any:
    """Parse a ``--cfg-options`` value without evaluating code.

    Python literals (``1``, ``0.1``, ``'a'``, ``[1, 2]``, ``(224, 224)``, ``None``,
    ``True``, ``dict`` literals), lower-case ``true/false/none``, comma-separated
    lists (``a,b`` -> ``['a', 'b']``) and bare strings.
    """
    s = text.strip()
    try:
        return _literal(ast.parse(s, mode='eval').body)
    except (ValueError, SyntaxError):
        pass
    _check_brackets(s, text)
    low = s.lower()
    if low in ('true', 'false'):
        return low == 'true'
    if low in ('none', 'null'):
        return None
    if s and s[0] in '[(' and s[-1] in '])':
        inner = parse_value(s[1:-1]) if s[1:-1].strip() else []
        items = inner if isinstance(inner, list) else [inner]
        return items if s[0] == '[' else tuple(items)
    if ',' in s:
        parts = _split_top(s)
        if len(parts) > 1:
            return [parse_value(x) for x in parts]
    return s


def _literal(node: ast.AST) -> Any:
    """A Python literal, where ``dict(key=literal, ...)`` also counts (MMPretrain-style values such as
    ``[dict(type='LinearLR', end=5)]``); anything else (names, other calls) raises ``ValueError``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' \
            and not node.args and all(k.arg for k in node.keywords):
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError('dict unpacking is not a literal')
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    return ast.literal_eval(node)


def _check_brackets(s: str, text: str) -> None:
    """Refuse a value whose brackets do not pair up (``(1,3]``, ``[1,2``), outside quoted strings."""
    pairs, stack, quote = {')': '(', ']': '[', '}': '{'}, [], None
    for ch in s:
        if quote:
            quote = None if ch == quote else quote
        elif ch in '\'"':
            quote = ch
        elif ch in '([{':
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            stack.append(ch)
            break
    if stack:
        raise ConfigError(f'--cfg-options value {text!r} has unbalanced brackets; write a list as [1,2], a tuple '
                          f'as (1,2), or quote a string that contains brackets.')


def _split_top(s: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_cfg_options(options: Iterable[str]) -> dict[str, Any]:
    """Turn ``['a.b=1', 'c=[1,2]']`` into ``{'a.b': 1, 'c': [1, 2]}``."""
    out = {}
    for opt in options:
        if '=' not in opt:
            raise ConfigError(f'--cfg-options entry {opt!r} has no "="; write it as key.subkey=value, '
                              f'e.g. optim_wrapper.optimizer.lr=0.01')
        k, v = opt.split('=', 1)
        if not k.strip():
            raise ConfigError(f'--cfg-options entry {opt!r} has an empty key.')
        try:
            out[k.strip()] = parse_value(v)
        except ConfigError as exc:
            raise ConfigError(f'{k.strip()}: {exc}') from None
    return out


def apply_options(cfg: dict, options: Mapping[str, Any]) -> dict:
    """Set dotted keys in ``cfg`` (in place); list elements are addressed by index
    (``train_dataloader.dataset.pipeline.1.scale=160``).

    Missing intermediate dicts are created, as MMEngine does (``randomness.seed=0`` on a config
    without ``randomness``), except where the missing key is unknown at the top level or looks like
    a typo of a key beside it (``optim_wrapper.optimzer.lr``): those fail with a suggestion. A new
    key that no component accepts fails when the component is built, naming its key path."""
    for dotted, value in options.items():
        parts = dotted.split('.')
        cur: Any = cfg
        for i, part in enumerate(parts[:-1]):
            where = '.'.join(parts[:i + 1])
            if isinstance(cur, list):
                if not part.isdigit() or int(part) >= len(cur):
                    raise ConfigError(f'--cfg-options {dotted}: {where} must be an index below {len(cur)}.')
                cur = cur[int(part)]
            elif isinstance(cur, dict):
                if part not in cur and _refuse_new_key(part, cur, top_level=i == 0):
                    raise ConfigError(f'--cfg-options {dotted}: the config has no key {where!r}.'
                                      f'{did_you_mean(part, cur.keys())}')
                if cur.get(part) is None:
                    cur[part] = {}
                cur = cur[part]
            else:
                raise ConfigError(f'--cfg-options {dotted}: {".".join(parts[:i])} is {cur!r}, not a dict.')
        last = parts[-1]
        if isinstance(cur, list):
            if not last.isdigit() or int(last) >= len(cur):
                raise ConfigError(f'--cfg-options {dotted}: index must be below {len(cur)}.')
            cur[int(last)] = value
        elif isinstance(cur, dict):
            if isinstance(value, dict) and isinstance(cur.get(last), dict):
                cur[last] = merge(cur[last], value)
            else:
                cur[last] = value
        else:
            raise ConfigError(f'--cfg-options {dotted}: {".".join(parts[:-1])} is not a dict.')
    return cfg


def _refuse_new_key(part: str, siblings: Mapping, top_level: bool) -> bool:
    """Whether ``--cfg-options`` should refuse to create the missing intermediate key ``part``."""
    import difflib
    if top_level and part not in KNOWN_TOP_LEVEL:
        return True
    return bool(difflib.get_close_matches(part, [str(k) for k in siblings], n=1, cutoff=0.75))


def check_untrusted(data: Any, filename: str | os.PathLike, where: str = '') -> None:
    """Refuse ``type`` values that are import paths in an untrusted (JSON/YAML) config.

    Reading such a file runs nothing, but building it would import and call whatever a dotted
    ``type`` names (``'os.system'``, ``'subprocess.Popen'``). Untrusted configs may therefore use
    only registered type names (``'ResNet'``, ``'mmpretrain.ResNet'``).
    """
    from fovea.registry import _SCOPES
    if isinstance(data, Mapping):
        t = data.get('type')
        if isinstance(t, str):
            name = next((t[len(s):] for s in _SCOPES if t.startswith(s)), t)
            if '.' in name:
                raise ConfigError(
                    f'{filename}: {where + "." if where else ""}type={t!r} is a Python import path; untrusted configs '
                    f'may only name registered types, because building an import path imports and calls arbitrary '
                    f'code. If you trust this file, pass --trust (Config.fromfile(..., untrusted=False)) or write '
                    f'the value in a Python config.')
        nested = data.get('config')  # a config file named inside a config (a distillation teacher's)
        if isinstance(nested, str) and nested.endswith('.py') and _outside_shipped(nested):
            raise ConfigError(f'{filename}: {where + "." if where else ""}config={nested!r} is a Python config, '
                              f'which would run as code; an untrusted config may name only JSON/YAML or shipped '
                              f'configs. If you trust both files, pass --trust.')
        for k, v in data.items():
            check_untrusted(v, filename, f'{where}.{k}' if where else str(k))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            check_untrusted(v, filename, f'{where}.{i}')


def _outside_shipped(name: str) -> bool:
    try:
        return CONFIG_ROOT.resolve() not in resolve_config_path(name).resolve().parents
    except ConfigError:
        return True


# ---------------------------------------------------------------- Config
class Config(ConfigDict):
    """A resolved config: a :class:`ConfigDict` that remembers the file it came from."""

    @classmethod
    def fromfile(cls, filename: str | os.PathLike, cfg_options: Mapping[str, Any] | Iterable[str] | None = None,
                 untrusted: bool | None = None) -> 'Config':
        """Load a config. ``untrusted=True`` (for files from others) runs nothing: the file must be JSON or
        YAML, may inherit only from JSON/YAML files and shipped configs, and may name only registered
        types (see :func:`check_untrusted`). ``None`` (the default): JSON/YAML files are untrusted, Python
        files are code and run; ``False`` trusts a JSON/YAML file too."""
        path = resolve_config_path(filename)
        if untrusted is None:
            untrusted = path.suffix.lower() in ('.json', '.yaml', '.yml')
        data = load_file(path, untrusted=untrusted)
        if untrusted:
            check_untrusted(data, path)
        if cfg_options:
            if not isinstance(cfg_options, Mapping):
                cfg_options = parse_cfg_options(cfg_options)
            apply_options(data, cfg_options)
        if data.get('custom_imports'):
            import_custom_modules(data['custom_imports'], path, untrusted)
        cfg = cls(data)
        dict.__setattr__(cfg, 'filename', str(path))
        return cfg

    @classmethod
    def from_dump(cls, text: str, source: str) -> 'Config':
        """Read a config stored by :meth:`pretty_text` (e.g. in a checkpoint's ``meta.config``) without
        running it: only ``name = <literal>`` lines are accepted, and the result is checked as an
        untrusted config (registered types only), since checkpoints come from anyone."""
        data: dict[str, Any] = {}
        try:
            tree = ast.parse(text, source)
            for node in tree.body:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Name)):
                    raise ValueError(f'line {node.lineno} is not `name = value`')
                data[node.targets[0].id] = ast.literal_eval(node.value)
        except (SyntaxError, ValueError) as exc:
            raise ConfigError(f'The config stored in {source} is not plain data ({exc}), so fovea does not run '
                              f'it; pass the config file instead (--config).') from None
        check_untrusted(data, source)
        cfg = cls(data)
        dict.__setattr__(cfg, 'filename', source)
        return cfg

    @property
    def name(self) -> str:
        return Path(getattr(self, 'filename', 'config')).stem

    def pretty_text(self) -> str:
        """The config as a Python file that reads back to the same values."""
        lines = [f'# resolved from {getattr(self, "filename", "<dict>")}']
        for k, v in self.to_dict().items():
            lines.append(f'{k} = {pprint.pformat(_dumpable(v), indent=1, width=100, sort_dicts=False)}')
        return '\n'.join(lines) + '\n'

    def dump(self, path: str | os.PathLike) -> None:
        from fovea.utils.io import atomic_write_text
        atomic_write_text(path, self.pretty_text())

    def model_cfg(self) -> dict:
        """The ``model`` dict as MMEngine's Runner sees it: a top-level ``data_preprocessor``
        (where MMPretrain's dataset bases put mean/std/to_rgb) is the model's unless the model sets one."""
        if 'model' not in self:
            raise ConfigError(f'Config {getattr(self, "filename", "")} has no `model`; every config needs one.')
        model = copy.deepcopy(self.to_dict()['model'])
        if isinstance(model, dict) and self.get('data_preprocessor') is not None:
            model.setdefault('data_preprocessor', copy.deepcopy(_unwrap(self['data_preprocessor'])))
        return model

    def resolve_legacy_keys(self) -> None:
        """Keys of older MMPretrain/mmcv configs that fovea does not use as they are: ``fp16=dict(loss_scale=...)``
        (mmcv 1.x) becomes ``env_cfg.precision='fp16'`` (dynamic loss scaling), with a warning."""
        import logging
        fp16 = self.get('fp16')
        if fp16 is None:
            return
        env = self.setdefault('env_cfg', ConfigDict())
        precision = env.get('precision', 'auto')
        if precision not in ('auto', 'fp16'):
            raise ConfigError(f'fp16={fp16!r} (the mmcv 1.x mixed-precision key) contradicts '
                              f'env_cfg.precision={precision!r}; remove one of them.')
        env['precision'] = 'fp16'
        logging.getLogger('fovea').warning(
            f'fp16={_unwrap(fp16)!r} is the mmcv 1.x key for mixed precision: fovea trains with '
            f"env_cfg.precision='fp16' and dynamic loss scaling (a static loss_scale is not used). Write "
            f"env_cfg=dict(precision='fp16') instead to silence this.")
        del self['fp16']

    def check_keys(self) -> None:
        """Fail on top-level keys that look like misspellings of known keys."""
        import difflib
        for k in self:
            if k in KNOWN_TOP_LEVEL or k.startswith('_'):
                continue
            close = difflib.get_close_matches(k, KNOWN_TOP_LEVEL, n=1, cutoff=0.85)
            if close and close[0] not in self:
                raise ConfigError(f'Unknown top-level config key {k!r} in {getattr(self, "filename", "config")}.'
                                  f' Did you mean {close[0]!r}? Rename it so fovea uses it.')


def import_custom_modules(custom_imports: Any, filename: str | os.PathLike, untrusted: bool) -> None:
    """MMEngine's ``custom_imports=dict(imports=['my_pkg.models'], allow_failed_imports=False)``: import the
    modules so that their ``register_module`` calls run. Importing runs code, so untrusted configs refuse it."""
    import importlib
    import logging
    if not isinstance(custom_imports, Mapping) or 'imports' not in custom_imports:
        raise ConfigError(f'{filename}: custom_imports must be dict(imports=[module names], '
                          f'allow_failed_imports=False), got {custom_imports!r}')
    imports = custom_imports['imports']
    imports = [imports] if isinstance(imports, str) else list(imports)
    if untrusted:
        raise ConfigError(f'{filename}: custom_imports={imports!r} would import and run Python modules, which an '
                          f'untrusted (JSON/YAML) config may not do. If you trust this file, pass --trust '
                          f'(Config.fromfile(..., untrusted=False)).')
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if not custom_imports.get('allow_failed_imports', False):
                raise ConfigError(f'{filename}: custom_imports could not import {name!r} ({exc}). Make it '
                                  f'importable (installed, or its folder on PYTHONPATH), or set '
                                  f'custom_imports.allow_failed_imports=True to go on without it.') from exc
            logging.getLogger('fovea').warning(f'custom_imports: {name!r} could not be imported ({exc}); '
                                               f'continuing (allow_failed_imports=True).')


def _dumpable(v: Any) -> Any:
    """Replace classes/functions by their import path so the dump is plain data."""
    if isinstance(v, dict):
        return {k: _dumpable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_dumpable(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_dumpable(x) for x in v)
    if isinstance(v, type) or callable(v):
        return f'{v.__module__}.{v.__qualname__}'
    return v

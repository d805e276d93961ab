"""Error types that carry a user-facing explanation.

Every error a user can cause (a bad config, a missing file, a mismatched
checkpoint) is raised as a :class:`FoveaError` subclass whose message names the
thing that is wrong and says how to fix it. The CLI prints these messages as a
single paragraph instead of a traceback.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class FoveaError(Exception):
    """Base class for errors caused by user input."""


class ConfigError(FoveaError, ValueError, AssertionError):
    """A config file, key or value is invalid.

    Code written for MMPretrain catches what MMPretrain raises for the same check, so a
    ``ConfigError`` is also a ``ValueError`` and an ``AssertionError`` (MMPretrain checks most
    arguments with ``assert``). Checks where MMPretrain/MMEngine raise ``KeyError`` (an unknown
    depth, arch or registered type) or ``TypeError`` (an unexpected argument or one of the wrong
    kind) raise the subclasses :class:`ConfigKeyError` / :class:`ConfigTypeError`.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return BaseException.__str__(self)


class ConfigKeyError(ConfigError, KeyError):
    """A ``ConfigError`` where MMPretrain/MMEngine raise ``KeyError`` (unknown depth, arch, type)."""


class ConfigTypeError(ConfigError, TypeError):
    """A ``ConfigError`` where MMPretrain/MMEngine raise ``TypeError`` (an argument of the wrong kind)."""


class DataError(FoveaError, ValueError):
    """A dataset file, annotation or sample is invalid."""


class CheckpointError(FoveaError, ValueError):
    """A checkpoint cannot be read or does not match the model."""


class MissingDependencyError(FoveaError, ImportError):
    """An optional dependency is not installed."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates that look like ``name`` (for 'did you mean')."""
    candidates = list(candidates)
    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not found:
        low = name.lower()
        found = [c for c in candidates if low in c.lower() or c.lower() in low][:n]
    return found


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' Did you mean ...?' suffix, or an empty string when nothing is close."""
    found = closest(name, candidates)
    return f" Did you mean {', '.join(repr(f) for f in found)}?" if found else ""


def add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)`` once (Python 3.11+); on 3.10 the note is kept in ``exc.__notes__`` alike
    (which 3.10's tracebacks do not print)."""
    notes = getattr(exc, '__notes__', None)
    if notes is not None and note in notes:
        return
    if hasattr(exc, 'add_note'):
        exc.add_note(note)
    else:
        try:
            exc.__notes__ = [*(notes or []), note]
        except AttributeError:  # pragma: no cover - exceptions whose attributes are fixed
            pass


def require(module: str, extra: str, purpose: str = ""):
    """Import an optional dependency or fail naming the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"The optional package '{module.split('.')[0]}' is needed{what} but is not installed. "
            f"Install it with: pip install 'fovea[{extra}]'") from exc

"""Transform conventions and Compose.

A transform is a callable that takes the sample dict and returns it (or
``None`` to drop the sample). Images travel as ``results['img']``: a
``torch.uint8`` tensor of shape (C, H, W) in RGB order (greyscale stays 1
channel), with ``img_shape`` = (H, W) and ``ori_shape`` kept alongside.
Transforms are registered under MMPretrain's names in ``TRANSFORMS``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from fovea.registry import TRANSFORMS, build, key_scope

__all__ = ['Compose', 'BaseTransform']


class BaseTransform:
    """Base class: subclasses implement :meth:`transform`."""

    def __call__(self, results: dict) -> dict | None:
        return self.transform(results)

    def transform(self, results: dict) -> dict | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms in order; a transform returning ``None`` drops the sample."""

    def __init__(self, transforms: Sequence[dict | Callable] | None = None):
        self.transforms: list[Callable] = []
        with key_scope('pipeline'):
            for i, t in enumerate(transforms or ()):
                t = build(t, TRANSFORMS, key=str(i)) if isinstance(t, dict) else t
                if not callable(t):
                    raise TypeError(f'pipeline entry {i} is a {type(t).__name__}, not a transform')
                self.transforms.append(t)

    def __call__(self, results: Any) -> Any:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results

    def __repr__(self) -> str:
        return 'Compose(\n' + ''.join(f'    {t!r},\n' for t in self.transforms) + ')'

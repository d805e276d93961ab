"""Caption transforms for image-text data (MMPretrain's ``CleanCaption``)."""
from __future__ import annotations

import re
import string
from typing import Sequence

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.utils.errors import DataError

__all__ = ['CleanCaption']


@TRANSFORMS.register_module()
class CleanCaption(BaseTransform):
    """Clean caption text: strip, drop characters (punctuation), collapse repeated whitespace, lower case.

    **Required Keys:** ``*keys``. **Modified Keys:** ``*keys`` (a string or a list of strings each).

    Args:
        keys: the sample keys holding text (MMPretrain's default 'gt_caption'; fovea's image-text
            datasets use 'text').
        remove_chars: characters removed (``string.punctuation``).
        lowercase / remove_dup_space / strip: as the names say.
    """

    def __init__(self, keys: str | Sequence[str] = 'gt_caption', remove_chars: str = string.punctuation,
                 lowercase: bool = True, remove_dup_space: bool = True, strip: bool = True):
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        self.table = str.maketrans({ch: None for ch in remove_chars})
        self.lowercase, self.remove_dup_space, self.strip = lowercase, remove_dup_space, strip

    def _clean(self, text: str) -> str:
        text = (text.strip() if self.strip else text).translate(self.table)
        if self.remove_dup_space:
            text = re.sub(r'\s{2,}', ' ', text)
        return text.lower() if self.lowercase else text

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            if key not in results:
                raise DataError(f'CleanCaption: the sample has no {key!r} (keys: {sorted(results)}); set keys= to the '
                                f"caption field ('text' for ImageTextDataset and TarShardDataset(text_key=...)).")
            value = results[key]
            results[key] = [self._clean(t) for t in value] if isinstance(value, (list, tuple)) else self._clean(value)
        return results

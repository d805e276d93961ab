"""What every BLIP model shares: the data preprocessor default, the tokenizer (built on first use, so
configs build and weights load without a vocabulary at hand), and reading texts from DataSamples.

BLIP models (``BlipCaption``, ``BlipRetrieval``, and the VQA / grounding / NLVR models) subclass
:class:`BlipBase` and pass ``tokenizer`` (MMPretrain's ``dict(type='BlipTokenizer',
name_or_path='bert-base-uncased')``) to it; ``self.tokenizer`` is then a
:class:`~fovea.data.text.bert_tokenizer.BlipTokenizer` whose size is checked against ``text_vocab_size()``.
"""
from __future__ import annotations

from typing import Sequence

import torch

from fovea.data.text.bert_tokenizer import BlipTokenizer, build_blip_tokenizer
from fovea.models.base import BaseModel
from fovea.models.multimodal.blip.xbert import check_vocab_fits
from fovea.registry import key_scope
from fovea.utils.errors import ConfigError, DataError

__all__ = ['BlipBase']


class BlipBase(BaseModel):
    """Base of the BLIP models: ``MultiModalDataPreprocessor`` by default and a lazily built tokenizer."""

    def __init__(self, tokenizer: dict | BlipTokenizer | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'MultiModalDataPreprocessor')
        super().__init__(data_preprocessor, init_cfg)
        self._tokenizer_cfg = tokenizer
        self._tokenizer: BlipTokenizer | None = tokenizer if isinstance(tokenizer, BlipTokenizer) else None

    def text_vocab_size(self) -> int | None:
        """The text model's vocabulary size (subclasses say which module holds the embedding table)."""
        return None

    @property
    def tokenizer(self) -> BlipTokenizer:
        if self._tokenizer is None:
            with key_scope('tokenizer'):
                tok = build_blip_tokenizer(self._tokenizer_cfg)
            size = self.text_vocab_size()
            if size is not None:
                check_vocab_fits(tok.vocab_size, size, type(self).__name__)
            self._tokenizer = tok
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, value: BlipTokenizer) -> None:
        self._tokenizer = value

    def tokenize(self, texts: Sequence[str], device, **kwargs):
        return self.tokenizer(list(texts), **kwargs).to(device)

    @staticmethod
    def texts_of(data_samples: Sequence | None, field: str = 'text', owner: str = 'BLIP') -> list[str]:
        """Each sample's ``field`` (a string, or a list of strings: all of them, in order)."""
        if not data_samples:
            raise DataError(f'{owner} needs DataSamples with a {field!r} field (the texts).')
        texts: list[str] = []
        for i, sample in enumerate(data_samples):
            value = sample.get(field) if sample is not None else None
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                texts.extend(value)
            else:
                raise DataError(f'{owner}: sample {i} has no {field!r} string (got {type(value).__name__}); pack the '
                                f"texts with PackInputs(algorithm_keys=[{field!r}]).")
        return texts

    @staticmethod
    def image_atts(image_embeds: torch.Tensor) -> torch.Tensor:
        return torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)

    def _unsupported(self, what: str, use: str) -> ConfigError:
        return ConfigError(f'{type(self).__name__} cannot {what}; {use}.')

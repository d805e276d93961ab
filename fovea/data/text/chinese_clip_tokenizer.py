"""Chinese CLIP's tokenizer: BERT WordPiece on the Chinese RoBERTa-wwm-ext vocabulary (21,128 tokens), offline.

Texts become ``[CLS] word pieces [SEP]`` padded with ``[PAD]`` (id 0) to the context length (52), as
MMPretrain's ``ChineseCLIP.tokenize`` and OFA-Sys' ``cn_clip.clip.tokenize`` do: lower-cased, curly double
quotes made straight, Chinese characters one token each (BERT's basic tokenizer), too long texts cut with
``[SEP]`` kept last. The word pieces come from :class:`~fovea.data.text.bert_tokenizer.BlipTokenizer`'s
backend (Hugging Face ``tokenizers``' BERT normaliser, pre-tokenizer and WordPiece, without BLIP's added
tokens), so the ids equal ``transformers``' ``BertTokenizer`` on the same ``vocab.txt``.

fovea ships no Chinese vocabulary and never downloads one. It is looked for at the ``vocab_file`` /
``name_or_path`` the config gives (a ``vocab.txt`` or a folder with one), then at
``$FOVEA_HOME/tokenizers/chinese_clip/vocab.txt`` (default ``~/.cache/fovea/...``), then in the local
Hugging Face cache of a hub name (``OFA-Sys/chinese-clip-vit-base-patch16``). MMPretrain's configs give
the vocabulary's download URL as ``vocab_file``: it is looked for in the same places, not fetched.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import torch

from fovea.data.text.bert_tokenizer import BlipTokenizer, find_vocab
from fovea.utils.download import cache_dir
from fovea.utils.errors import ConfigError

__all__ = ['ChineseCLIPTokenizer', 'build_chinese_clip_tokenizer', 'find_chinese_vocab', 'CHINESE_VOCAB_URL']

logger = logging.getLogger('fovea')

#: where MMPretrain's configs say the vocabulary is (the same file as OFA-Sys' cn_clip/clip/vocab.txt)
CHINESE_VOCAB_URL = 'https://download.openmmlab.com/mmpretrain/v1.0/chinese_clip/vocab.txt'
#: the name of fovea's own copy: $FOVEA_HOME/tokenizers/<this>/vocab.txt
LOCAL_NAME = 'chinese_clip'
#: config types that mean this tokenizer (MMPretrain's FullTokenizer; transformers' names for its processor)
TOKENIZER_TYPES = ('ChineseCLIPTokenizer', 'FullTokenizer', 'BertTokenizer', 'BertTokenizerFast', 'AutoTokenizer')


def _is_url(name: str) -> bool:
    return str(name).startswith(('http://', 'https://'))


def find_chinese_vocab(vocab: str | os.PathLike | None = None) -> Path:
    """The Chinese ``vocab.txt`` for a path, a URL or a hub name (see the module docstring), or a ConfigError
    saying where to put it."""
    own = cache_dir() / 'tokenizers' / LOCAL_NAME / 'vocab.txt'
    names: list[str] = []
    if vocab is not None and not _is_url(str(vocab)):
        path = Path(vocab).expanduser()
        if path.is_file() or (path / 'vocab.txt').is_file():
            return path if path.is_file() else path / 'vocab.txt'
        if path.exists() or str(vocab).startswith(('/', '.', '~')) or path.suffix == '.txt':
            raise ConfigError(f'Chinese CLIP tokenizer: {path} is not a vocab.txt nor a folder holding one. Put '
                              f"Chinese CLIP's vocab.txt (21,128 lines) there, or at {own}.")
        names.append(str(vocab))  # a hub name: its local cache
    names.append(LOCAL_NAME)
    for name in names:
        try:
            return find_vocab(name)
        except ConfigError:
            continue
    raise ConfigError(
        f"Chinese CLIP tokenizer vocabulary not found (fovea reads it offline and ships none). Download Chinese "
        f"CLIP's vocab.txt (the 21,128-line Chinese BERT vocabulary: {CHINESE_VOCAB_URL}, or cn_clip/clip/vocab.txt "
        f"of OFA-Sys/Chinese-CLIP, or vocab.txt of the OFA-Sys/chinese-clip-* hub models) and put it at {own}, or "
        f"point the config at it: model.tokenizer=dict(type='FullTokenizer', vocab_file='/path/to/vocab.txt').")


class ChineseCLIPTokenizer:
    """Texts -> (N, context_length) ids ``[CLS] ... [SEP] [PAD]...`` (MMPretrain's ``ChineseCLIP.tokenize``).

    Args:
        vocab_file: the ``vocab.txt``, a folder with one, MMPretrain's URL or a hub name (looked up locally).
        context_length: tokens per text, ``[CLS]`` and ``[SEP]`` included (52 in Chinese CLIP).
        do_lower_case: lower-case and strip accents (the Chinese vocabulary is uncased).

    Attributes: ``pad_token_id``, ``cls_token_id``, ``sep_token_id``, ``unk_token_id``, ``vocab_size`` (lines of
    the vocabulary), ``vocab_file``.
    """

    def __init__(self, vocab_file: str | os.PathLike | None = None, context_length: int = 52,
                 do_lower_case: bool = True):
        if context_length < 2:
            raise ConfigError(f'ChineseCLIPTokenizer context_length={context_length}: at least 2 ([CLS] and [SEP]).')
        self.vocab_file = find_chinese_vocab(vocab_file)
        try:
            self._bert = BlipTokenizer(vocab_file=self.vocab_file, do_lower_case=do_lower_case, added_tokens=())
        except ConfigError as exc:
            raise ConfigError(f'Chinese CLIP tokenizer: {exc} (Chinese CLIP needs its own 21,128-line vocab.txt, '
                              f'{CHINESE_VOCAB_URL}.)') from None
        self.context_length = context_length
        self.pad_token_id, self.unk_token_id = self._bert.pad_token_id, self._bert.unk_token_id
        self.cls_token_id, self.sep_token_id = self._bert.cls_token_id, self._bert.sep_token_id
        self.vocab_size = self._bert.vocab_size
        self._warned = False

    def __len__(self) -> int:
        return self.vocab_size

    @staticmethod
    def _clean(text: str) -> str:
        return text.lower().replace('\u201c', '"').replace('\u201d', '"')

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        n = context_length or self.context_length
        out = torch.full((len(texts), n), self.pad_token_id, dtype=torch.long)
        cut = 0
        for i, text in enumerate(texts):
            pieces = self._bert.encode(self._clean(str(text)))
            cut += len(pieces) > n - 2
            ids = [self.cls_token_id, *pieces[:n - 2], self.sep_token_id]
            out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        if cut and not self._warned:
            self._warned = True
            logger.warning('ChineseCLIPTokenizer: %d text(s) longer than the context of %d tokens were truncated '
                           '([SEP] kept last); further truncations are not reported.', cut, n)
        return out

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        return self._bert.decode(ids)


def build_chinese_clip_tokenizer(cfg: dict | ChineseCLIPTokenizer | None = None,
                                 context_length: int = 52) -> ChineseCLIPTokenizer:
    """The tokenizer a config names: ``None`` (the vocabulary found locally), MMPretrain's
    ``dict(type='FullTokenizer', vocab_file=URL_OR_PATH)`` or ``dict(type=..., name_or_path=PATH_OR_HUB_ID)``."""
    if isinstance(cfg, ChineseCLIPTokenizer):
        return cfg
    if cfg is not None and not isinstance(cfg, dict):
        raise ConfigError(f"tokenizer must be a dict like dict(type='FullTokenizer', vocab_file=...), got {cfg!r}.")
    cfg = dict(cfg or {})
    kind = str(cfg.pop('type', 'ChineseCLIPTokenizer')).split('.')[-1]
    if kind not in TOKENIZER_TYPES:
        raise ConfigError(f'tokenizer type {kind!r} is not supported for Chinese CLIP; use one of '
                          f'{", ".join(TOKENIZER_TYPES)} (all read its BERT vocab.txt).')
    vocab = cfg.pop('vocab_file', None) or cfg.pop('name_or_path', None) or cfg.pop('pretrained_model_name_or_path', None)
    lower = cfg.pop('do_lower_case', True)
    context = cfg.pop('context_length', context_length)
    for harmless in ('use_fast', 'model_max_length', 'local_files_only'):
        cfg.pop(harmless, None)
    if cfg:
        raise ConfigError(f'tokenizer got unexpected arguments {sorted(cfg)}; the Chinese CLIP tokenizer takes '
                          f'vocab_file (or name_or_path), do_lower_case and context_length.')
    return ChineseCLIPTokenizer(vocab, context_length=context, do_lower_case=lower)

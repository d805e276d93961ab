"""BLIP's BERT WordPiece tokenizer (bert-base-uncased with BLIP's two extra tokens), offline.

The vocabulary is a BERT ``vocab.txt`` the user has (BLIP checkpoints come with one; it is
bert-base-uncased's 30,522 lines); fovea ships none and never downloads. Tokenization is Hugging Face
``tokenizers``' BERT normaliser (lower case and accents stripped for uncased vocabularies), BERT
pre-tokenizer and WordPiece model, so the ids equal ``transformers``' ``BertTokenizerFast``. As BLIP
(and MMPretrain's ``BlipTokenizer``) do, ``[DEC]`` (the decoder's bos token) and ``[ENC]`` (put in place
of ``[CLS]`` for the image-grounded encoder) are added after the vocabulary: ids 30522 and 30523 for
bert-base-uncased, so BLIP's text models have ``vocab_size=30524``.

Where the vocabulary is looked for, for ``name_or_path`` (MMPretrain's configs say 'bert-base-uncased'):
a ``vocab.txt`` file or a folder holding one; else ``$FOVEA_HOME/tokenizers/<name>/vocab.txt`` (default
``~/.cache/fovea/tokenizers/bert-base-uncased/vocab.txt``); else a copy in the local Hugging Face cache
(``$HF_HOME/hub/models--<name>/snapshots/*/vocab.txt``), read without network access.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch

from fovea.utils.download import cache_dir
from fovea.utils.errors import ConfigError, require

__all__ = ['BlipTokenizer', 'TokenizedText', 'build_blip_tokenizer', 'find_vocab', 'BERT_SPECIAL_TOKENS']

#: tokens every BERT vocabulary has and BLIP needs
BERT_SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]')
#: BLIP's added tokens: the decoder's bos, and the image-grounded encoder's first token
BLIP_TOKENS = ('[DEC]', '[ENC]')
TOKENIZER_TYPES = ('BlipTokenizer', 'BertTokenizer', 'BertTokenizerFast', 'AutoTokenizer')
DEFAULT_NAME = 'bert-base-uncased'


def _hf_cache_roots() -> list[Path]:
    roots = []
    if os.environ.get('HF_HUB_CACHE'):
        roots.append(Path(os.environ['HF_HUB_CACHE']))
    hf_home = Path(os.environ.get('HF_HOME', Path.home() / '.cache' / 'huggingface'))
    roots.append(hf_home / 'hub')
    return roots


def find_vocab(name_or_path: str | os.PathLike = DEFAULT_NAME) -> Path:
    """The ``vocab.txt`` for a path or a hub name (see the module docstring), or a ConfigError saying where
    to put it."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / 'vocab.txt').is_file():
            return path / 'vocab.txt'
        raise ConfigError(f'BLIP tokenizer: the folder {path} has no vocab.txt; put the BERT vocabulary there '
                          f'(bert-base-uncased\'s vocab.txt, which BLIP checkpoints come with).')
    name = str(name_or_path)
    own = cache_dir() / 'tokenizers' / name / 'vocab.txt'
    if own.is_file():
        return own
    for root in _hf_cache_roots():
        found = sorted((root / f'models--{name.replace("/", "--")}' / 'snapshots').glob('*/vocab.txt'))
        if found:
            return found[-1]
    raise ConfigError(
        f'BLIP tokenizer vocabulary for {name!r} not found (fovea reads it offline and ships none). Put BERT\'s '
        f'vocab.txt (bert-base-uncased\'s, 30,522 lines; BLIP checkpoints come with it) at {own}, or point the '
        f"config at it: tokenizer=dict(type='BlipTokenizer', name_or_path='/path/to/vocab.txt' or its folder).")


@lru_cache(maxsize=4)
def _build_backend(vocab_file: str, lowercase: bool, added_tokens: tuple[str, ...] = BLIP_TOKENS):
    tk = require('tokenizers', 'multimodal', 'the BLIP tokenizer')
    try:
        lines = Path(vocab_file).read_text(encoding='utf-8').splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f'BLIP tokenizer vocabulary {vocab_file} could not be read ({exc}); it should be a BERT '
                          f'vocab.txt (one token a line).') from None
    vocab = {line.strip(): i for i, line in enumerate(lines)}  # a token's id is its line (BERT's rule)
    missing = [t for t in BERT_SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ConfigError(f'BLIP tokenizer vocabulary {vocab_file} lacks the special tokens {", ".join(missing)} '
                          f'that BLIP needs (with {", ".join(BERT_SPECIAL_TOKENS)}); it is not a BERT WordPiece '
                          f'vocab.txt (bert-base-uncased\'s has [PAD] on line 1 and [UNK] [CLS] [SEP] on lines '
                          f'101-103). Use the vocab.txt that came with the BLIP checkpoint.')
    tok = tk.Tokenizer(tk.models.WordPiece(vocab, unk_token='[UNK]', max_input_chars_per_word=100))
    tok.normalizer = tk.normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                   lowercase=lowercase)
    tok.pre_tokenizer = tk.pre_tokenizers.BertPreTokenizer()
    tok.decoder = tk.decoders.WordPiece(prefix='##', cleanup=True)
    specials = [t for t in ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]') if t in vocab]
    tok.add_special_tokens(specials + list(added_tokens))
    return tok


@dataclass
class TokenizedText:
    """A tokenized batch: ``input_ids`` and ``attention_mask`` (1 for tokens, 0 for padding), both (N, L) long."""
    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def to(self, device) -> 'TokenizedText':
        return TokenizedText(self.input_ids.to(device), self.attention_mask.to(device))

    def __getitem__(self, key: str) -> torch.Tensor:
        return getattr(self, key)


class BlipTokenizer:
    """Text -> ``[CLS] word pieces [SEP]`` ids, BLIP's ``[DEC]``/``[ENC]`` added (MMPretrain's ``BlipTokenizer``).

    Args:
        name_or_path: a ``vocab.txt``, a folder with one, or a hub name looked up locally (module docstring).
        vocab_file: the ``vocab.txt`` (takes precedence over ``name_or_path``).
        do_lower_case: lower-case and strip accents (uncased vocabularies; default: unless the name says
            'cased' without 'uncased').
        added_tokens: tokens added after the vocabulary (BLIP's ``[DEC]``, ``[ENC]``; ``()`` for a plain BERT
            tokenizer, whose ``bos_token_id``/``enc_token_id`` are then None).

    Attributes (``transformers``' names): ``pad_token_id``, ``unk_token_id``, ``cls_token_id``, ``sep_token_id``,
    ``mask_token_id`` (None without ``[MASK]``), ``bos_token_id`` (``[DEC]``), ``enc_token_id`` (``[ENC]``),
    ``additional_special_tokens_ids`` (``[enc_token_id]``), ``vocab_size`` (with the added tokens).
    """

    def __init__(self, name_or_path: str | os.PathLike = DEFAULT_NAME, vocab_file: str | os.PathLike | None = None,
                 do_lower_case: bool | None = None, added_tokens: Sequence[str] = BLIP_TOKENS):
        self.vocab_file = find_vocab(vocab_file if vocab_file is not None else name_or_path)
        if do_lower_case is None:
            label = str(name_or_path).lower()
            do_lower_case = 'uncased' in label or 'cased' not in label
        self._backend = _build_backend(str(self.vocab_file.resolve()), bool(do_lower_case), tuple(added_tokens))
        ids = self._backend.token_to_id
        self.pad_token_id, self.unk_token_id = ids('[PAD]'), ids('[UNK]')
        self.cls_token_id, self.sep_token_id, self.mask_token_id = ids('[CLS]'), ids('[SEP]'), ids('[MASK]')
        self.bos_token_id, self.enc_token_id = ids('[DEC]'), ids('[ENC]')
        self.additional_special_tokens_ids = [self.enc_token_id]
        self.vocab_size = self._backend.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        """Word-piece ids of one text, without ``[CLS]``/``[SEP]``."""
        return self._backend.encode(text, add_special_tokens=False).ids

    def __call__(self, texts: str | Sequence[str], padding: str | bool = 'longest', truncation: bool = True,
                 max_length: int | None = None, return_tensors: str | None = 'pt',
                 add_special_tokens: bool = True) -> TokenizedText:
        """Tokenize a batch; ``padding`` 'longest' (True) or 'max_length'; ``truncation`` cuts to
        ``max_length`` tokens keeping ``[SEP]`` last."""
        if isinstance(texts, str):
            texts = [texts]
        if padding not in ('longest', 'max_length', True, False, 'do_not_pad'):
            raise ConfigError(f"BlipTokenizer padding must be 'longest' or 'max_length', got {padding!r}.")
        if padding == 'max_length' and max_length is None:
            raise ConfigError("BlipTokenizer padding='max_length' needs max_length.")
        rows = []
        for enc in self._backend.encode_batch(list(texts), add_special_tokens=False):
            ids = [self.cls_token_id, *enc.ids, self.sep_token_id] if add_special_tokens else list(enc.ids)
            if truncation and max_length is not None and len(ids) > max_length:
                ids = ids[:max_length - 1] + [self.sep_token_id] if add_special_tokens else ids[:max_length]
            rows.append(ids)
        width = max_length if padding == 'max_length' else max((len(r) for r in rows), default=0)
        if padding in (False, 'do_not_pad') and len({len(r) for r in rows}) > 1:
            raise ConfigError('BlipTokenizer: texts of different lengths need padding.')
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[i, :len(ids)] = 1
        return TokenizedText(input_ids, mask)

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self._backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def batch_decode(self, sequences, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]


def build_blip_tokenizer(cfg: dict | BlipTokenizer | None = None) -> BlipTokenizer:
    """The tokenizer a config names: ``None`` (bert-base-uncased, found locally),
    ``dict(type='BlipTokenizer', name_or_path=...)`` (MMPretrain's configs) or ``vocab_file=PATH``."""
    if isinstance(cfg, BlipTokenizer):
        return cfg
    cfg = dict(cfg or {})
    kind = str(cfg.pop('type', 'BlipTokenizer')).split('.')[-1]
    if kind not in TOKENIZER_TYPES:
        raise ConfigError(f'tokenizer type {kind!r} is not supported for BLIP; use {", ".join(TOKENIZER_TYPES)} '
                          f'(all read a BERT vocab.txt).')
    name = cfg.pop('name_or_path', None) or cfg.pop('pretrained_model_name_or_path', None) or DEFAULT_NAME
    vocab = cfg.pop('vocab_file', None)
    lower = cfg.pop('do_lower_case', None)
    for harmless in ('use_fast', 'model_max_length', 'local_files_only'):
        cfg.pop(harmless, None)
    if cfg:
        raise ConfigError(f'tokenizer got unexpected arguments {sorted(cfg)}; BlipTokenizer takes name_or_path, '
                          f'vocab_file and do_lower_case.')
    return BlipTokenizer(name, vocab_file=vocab, do_lower_case=lower)

"""CLIP's byte-level BPE tokenizer (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision", ICML 2021), offline.

The merges file ``bpe_simple_vocab_16e6.txt.gz`` ships with fovea (``fovea/data/assets``, MIT licence
of OpenAI's CLIP / open_clip, see the README there); another copy, or a Hugging Face tokenizer folder
(``vocab.json`` + ``merges.txt``), can be given as ``vocab_file``. Tokenization itself is Hugging
Face's ``tokenizers`` (a byte-level BPE with CLIP's ``</w>`` end-of-word suffix and CLIP's
pre-tokenizing pattern); text is cleaned first as open_clip does (``ftfy.fix_text``, HTML entities
unescaped twice, whitespace collapsed, lower case), so the ids equal open_clip's ``SimpleTokenizer``.

MMPretrain configs name a hub tokenizer (``dict(type='AutoTokenizer',
name_or_path='openai/clip-vit-base-patch16')``): :func:`build_tokenizer` maps CLIP hub ids to this
local tokenizer; nothing is downloaded.
"""
from __future__ import annotations

import gzip
import html
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch

from fovea.utils.errors import ConfigError, require

__all__ = ['CLIPTokenizer', 'build_tokenizer', 'DEFAULT_VOCAB']

logger = logging.getLogger('fovea')

#: the vocabulary shipped with fovea
DEFAULT_VOCAB = Path(__file__).resolve().parent.parent / 'assets' / 'bpe_simple_vocab_16e6.txt.gz'
#: CLIP's pre-tokenizing pattern (contractions, letter runs, single digits, other symbol runs)
PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
SPECIAL_TOKENS = ('<start_of_text>', '<end_of_text>')
#: tokenizer types MMPretrain configs name, all served by :class:`CLIPTokenizer`
TOKENIZER_TYPES = ('CLIPTokenizer', 'AutoTokenizer', 'CLIPTokenizerFast', 'OpenAICLIPTokenizer')
HUB_PREFIXES = ('openai/clip-', 'laion/clip-', 'laion/', 'timm/', 'openai/')


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table (the alphabet of byte-level BPE)."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _missing(path: Path) -> ConfigError:
    return ConfigError(
        f'CLIP tokenizer vocabulary not found: {path}. fovea ships it as {DEFAULT_VOCAB}; if that file is '
        f'missing from your install, copy bpe_simple_vocab_16e6.txt.gz there (it comes with open_clip_torch and '
        f"OpenAI's CLIP repository), or pass its path: tokenizer=dict(type='CLIPTokenizer', vocab_file=PATH) "
        f'(a Hugging Face tokenizer folder with vocab.json and merges.txt works too).')


@lru_cache(maxsize=4)
def _build_backend(vocab_file: str):
    """A ``tokenizers.Tokenizer`` for a merges file (cached: building the 49k-entry table takes ~1 s)."""
    tk = require('tokenizers', 'multimodal', 'the CLIP tokenizer')
    path = Path(vocab_file)
    if path.is_dir():
        if (path / 'vocab.json').is_file() and (path / 'merges.txt').is_file():
            model = tk.models.BPE.from_file(str(path / 'vocab.json'), str(path / 'merges.txt'),
                                            end_of_word_suffix='</w>', continuing_subword_prefix='')
            return _assemble(tk, model)
        if (path / DEFAULT_VOCAB.name).is_file():
            path = path / DEFAULT_VOCAB.name
        else:
            raise _missing(path / DEFAULT_VOCAB.name)
    if not path.is_file():
        raise _missing(path)
    opener = gzip.open if path.suffix == '.gz' else open
    try:
        with opener(path, 'rt', encoding='utf-8') as f:
            lines = f.read().split('\n')
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ConfigError(f'CLIP tokenizer vocabulary {path} could not be read ({exc}); it should be the '
                          f'gzipped BPE merges file bpe_simple_vocab_16e6.txt.gz.') from None
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    if len(merges) < 1000 or any(len(m) != 2 for m in merges):
        raise ConfigError(f'{path} is not a CLIP BPE merges file (expected ~48,894 lines of two symbols after a '
                          f'version line).')
    alphabet = list(_bytes_to_unicode().values())
    vocab = alphabet + [c + '</w>' for c in alphabet] + [''.join(m) for m in merges] + list(SPECIAL_TOKENS)
    model = tk.models.BPE(vocab={t: i for i, t in enumerate(vocab)}, merges=merges, end_of_word_suffix='</w>',
                          continuing_subword_prefix='')
    return _assemble(tk, model)


def _assemble(tk, model):
    tok = tk.Tokenizer(model)
    tok.pre_tokenizer = tk.pre_tokenizers.Sequence([
        tk.pre_tokenizers.Split(tk.Regex(PATTERN), behavior='removed', invert=True),
        tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = tk.decoders.BPEDecoder(suffix='</w>')
    specials = [t for t in SPECIAL_TOKENS if tok.token_to_id(t) is not None] or ['<|startoftext|>', '<|endoftext|>']
    tok.add_special_tokens(specials)
    return tok


def _clean(text: str) -> str:
    ftfy = require('ftfy', 'multimodal', 'cleaning text for the CLIP tokenizer')
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return re.sub(r'\s+', ' ', text).strip().lower()


class CLIPTokenizer:
    """Text -> (N, context_length) token ids: ``<start_of_text>`` ids ``<end_of_text>``, zero padded.

    Text longer than the context is cut to ``context_length`` tokens with the end token kept last
    (open_clip's rule); the first time that happens a warning says so.

    Args:
        vocab_file: the BPE merges file (default: the copy shipped with fovea) or a folder with it
            (or with a Hugging Face ``vocab.json`` + ``merges.txt``).
        context_length: tokens per text (77 for every published CLIP).
    """

    def __init__(self, vocab_file: str | os.PathLike | None = None, context_length: int = 77):
        self.vocab_file = Path(vocab_file) if vocab_file is not None else DEFAULT_VOCAB
        if context_length < 2:
            raise ConfigError(f'CLIPTokenizer context_length must be >= 2 (start and end tokens), got {context_length}.')
        self.context_length = int(context_length)
        self._backend = _build_backend(str(self.vocab_file.resolve()))
        start, end = (self._backend.token_to_id(t) for t in SPECIAL_TOKENS)
        if start is None:
            start, end = (self._backend.token_to_id(t) for t in ('<|startoftext|>', '<|endoftext|>'))
        self.sot_token_id, self.eot_token_id = start, end
        self.vocab_size = self._backend.get_vocab_size()
        self._warned = False

    def encode(self, text: str) -> list[int]:
        """BPE ids of one text, without the start and end tokens."""
        return self._backend.encode(_clean(text), add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids if int(i) not in (0, self.sot_token_id, self.eot_token_id)]
        return self._backend.decode(ids, skip_special_tokens=True)

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        n = context_length or self.context_length
        encoded = self._backend.encode_batch([_clean(t) for t in texts], add_special_tokens=False)
        out = torch.zeros(len(texts), n, dtype=torch.long)
        cut = 0
        for i, enc in enumerate(encoded):
            ids = [self.sot_token_id, *enc.ids, self.eot_token_id]
            if len(ids) > n:
                cut += 1
                ids = ids[:n]
                ids[-1] = self.eot_token_id
            out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        if cut and not self._warned:
            self._warned = True
            logger.warning('CLIPTokenizer: %d text(s) longer than the context of %d tokens were truncated (the end '
                           'token kept last); further truncations are not reported.', cut, n)
        return out


def build_tokenizer(cfg: dict | CLIPTokenizer | None = None, context_length: int = 77) -> CLIPTokenizer:
    """The tokenizer a config names: ``None`` (fovea's vocabulary), ``dict(type='CLIPTokenizer', vocab_file=...)``
    or MMPretrain's ``dict(type='AutoTokenizer', name_or_path='openai/clip-vit-base-patch16')``
    (a CLIP hub id is served by the local vocabulary; a local folder is read)."""
    if cfg is None or isinstance(cfg, CLIPTokenizer):
        return cfg or CLIPTokenizer(context_length=context_length)
    if not isinstance(cfg, dict):
        raise ConfigError(f'tokenizer must be a dict like dict(type="CLIPTokenizer"), got {cfg!r}.')
    cfg = dict(cfg)
    kind = cfg.pop('type', 'CLIPTokenizer')
    kind = kind.split('.')[-1]
    if kind not in TOKENIZER_TYPES:
        raise ConfigError(f'tokenizer type {kind!r} is not supported; fovea has the CLIP BPE tokenizer '
                          f'(types {", ".join(TOKENIZER_TYPES)}).')
    vocab = cfg.pop('vocab_file', None)
    name = cfg.pop('name_or_path', None) or cfg.pop('pretrained_model_name_or_path', None)
    cfg.pop('use_fast', None)
    if name is not None and vocab is None:
        if Path(name).exists():
            vocab = name
        elif not str(name).lower().startswith(HUB_PREFIXES) or 'chinese' in str(name).lower():
            raise ConfigError(f'tokenizer name_or_path={name!r} is neither a local path nor a CLIP hub id; fovea '
                              f'reads tokenizers offline: give vocab_file=PATH of a CLIP BPE vocabulary.')
    context = cfg.pop('context_length', cfg.pop('model_max_length', context_length))
    if cfg:
        raise ConfigError(f'tokenizer got unexpected arguments {sorted(cfg)}; CLIPTokenizer takes vocab_file and '
                          f'context_length.')
    return CLIPTokenizer(vocab, context_length=context)

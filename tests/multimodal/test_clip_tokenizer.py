"""The CLIP BPE tokenizer: open_clip's ids on a varied corpus, truncation, config mapping, bad input."""
from __future__ import annotations

import logging

import pytest
import torch

from fovea.data.text.clip_tokenizer import DEFAULT_VOCAB, CLIPTokenizer, build_tokenizer
from fovea.utils.errors import ConfigError

CORPUS = [
    'a photo of a cat.', "Hello, World!!! It's 3:45pm; don't you'll we've they'd I'm", '',
    'naïve café — «quotes» “smart” ‘single’', '日本語のテキスト 中文 한국어', 'emoji 😀🐱‍👤 👍🏽',
    '  multiple\n\tspaces   here  ', '&amp;lt;html&amp;gt; &quot;x&quot;', 'numbers 1234567890 3.14159 1e-5',
    'UPPER lower MiXeD', 'x' * 300, ' '.join(['word'] * 100), 'ﬁ ligature Ⅻ ½ ㎏', 'a-b_c/d\\e|f~g`h^i',
    'İstanbul ß ς Ω', '\u200b zero width \u00a0nbsp', 'tab\tand\r\nnewlines', '...!!!???',
    "e.g. U.S.A. Mr. Smith's dog's", 'mojibake: Ã©tÃ©', 'a photo of a airplane, a type of aircraft.',
]


@pytest.fixture(scope='module')
def tok():
    return CLIPTokenizer()


@pytest.mark.reference
def test_ids_equal_open_clip(tok):
    tokenizer = pytest.importorskip('open_clip.tokenizer')
    ref = tokenizer.SimpleTokenizer()
    ours, theirs = tok(CORPUS), ref(CORPUS)
    for text, a, b in zip(CORPUS, ours, theirs):
        assert torch.equal(a, b), text
    assert tok.vocab_size == ref.vocab_size == 49408
    assert (tok.sot_token_id, tok.eot_token_id) == (ref.sot_token_id, ref.eot_token_id)


def test_layout_and_known_ids(tok):
    ids = tok('a photo of a cat.')
    assert ids.shape == (1, 77) and ids.dtype == torch.long
    # <start> a photo of a cat . <end>, zero padded (OpenAI's ids)
    assert ids[0, :8].tolist() == [49406, 320, 1125, 539, 320, 2368, 269, 49407]
    assert ids[0, 8:].eq(0).all()
    assert tok.decode(ids[0]).strip() == 'a photo of a cat .'


def test_long_text_truncated_end_kept_warned_once(tok, caplog):
    tok = CLIPTokenizer()  # a fresh instance has not warned yet
    with caplog.at_level(logging.WARNING, logger='fovea'):
        ids = tok(['word ' * 200, 'x' * 500, 'short'])
        tok(['word ' * 200])
    assert ids.shape == (3, 77)
    assert ids[0, -1] == tok.eot_token_id and ids[1, -1] == tok.eot_token_id
    assert ids[0, 0] == tok.sot_token_id
    warnings = [r for r in caplog.records if 'truncated' in r.getMessage()]
    assert len(warnings) == 1 and '2 text(s)' in warnings[0].getMessage()
    assert tok('a b c d e f', context_length=5)[0].tolist() == [tok.sot_token_id, 320, 321, 322, tok.eot_token_id]


def test_missing_vocabulary_says_where_to_put_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        CLIPTokenizer(tmp_path / 'nope.txt.gz')
    msg = str(err.value)
    assert 'nope.txt.gz' in msg and str(DEFAULT_VOCAB) in msg and 'vocab_file' in msg
    with pytest.raises(ConfigError, match='bpe_simple_vocab_16e6.txt.gz'):
        CLIPTokenizer(tmp_path)  # an empty folder


def test_mmpretrain_autotokenizer_maps_to_the_local_vocabulary(tok):
    built = build_tokenizer(dict(type='AutoTokenizer', name_or_path='openai/clip-vit-base-patch16', use_fast=False))
    assert torch.equal(built('a dog'), tok('a dog'))
    with pytest.raises(ConfigError, match='offline'):
        build_tokenizer(dict(type='AutoTokenizer', name_or_path='bert-base-uncased'))
    with pytest.raises(ConfigError, match='not supported'):
        build_tokenizer(dict(type='BertTokenizer'))


def test_user_vocabulary_path(tmp_path, tok):
    import shutil
    shutil.copy(DEFAULT_VOCAB, tmp_path / DEFAULT_VOCAB.name)
    assert torch.equal(CLIPTokenizer(tmp_path)('a dog'), tok('a dog'))  # a folder holding it
    bad = tmp_path / 'bad.txt'
    bad.write_text('#version\nnot a merges file\n')
    with pytest.raises(ConfigError, match='not a CLIP BPE merges file'):
        CLIPTokenizer(bad)

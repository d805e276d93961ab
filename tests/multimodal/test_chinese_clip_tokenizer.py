"""Chinese CLIP's tokenizer: MMPretrain's [CLS] ... [SEP] [PAD] layout (lower case, straight quotes, cut with
[SEP] kept and said once), transformers' BertTokenizer word pieces, and where the vocabulary is looked for."""
from __future__ import annotations

import logging

import pytest
import torch

from fovea.data.text.chinese_clip_tokenizer import CHINESE_VOCAB_URL, ChineseCLIPTokenizer, build_chinese_clip_tokenizer
from fovea.utils.errors import ConfigError
from tests.multimodal.chinese_clip_testutil import VOCAB, write_vocab

TEXTS = ['一张猫的照片', '红色汽车在草地上', 'A Photo of Cats, 2020。', '“这是”大熊', '', '狗' * 30, 'xyz 苹果']


@pytest.fixture
def vocab(tmp_path):
    return write_vocab(tmp_path)


def test_layout_is_cls_pieces_sep_then_padding(vocab, caplog):
    tok = ChineseCLIPTokenizer(vocab, context_length=12)
    ids = tok(TEXTS)
    assert ids.shape == (len(TEXTS), 12) and (ids[:, 0] == tok.cls_token_id).all()
    index = {t: i for i, t in enumerate(VOCAB)}
    assert ids[0].tolist() == [index[t] for t in ['[CLS]', *'一张猫的照片', '[SEP]']] + [0] * 4
    assert ids[2, 1:4].tolist() == [index['a'], index['photo'], index['of']]     # lower-cased
    assert ids[3, 1] == index['"']                                              # curly quotes made straight
    assert ids[4, :3].tolist() == [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id]
    assert ids[6, 1] == tok.unk_token_id
    with caplog.at_level(logging.WARNING, logger='fovea'):
        assert ids[5].tolist() == [tok.cls_token_id] + [index['狗']] * 10 + [tok.sep_token_id]
        tok(TEXTS)
        tok(TEXTS)
    assert sum('truncated' in r.message for r in caplog.records) == 1


@pytest.mark.reference
def test_word_pieces_equal_transformers_bert_tokenizer(vocab):
    transformers = pytest.importorskip('transformers')
    ref = transformers.BertTokenizer(vocab=str(vocab), do_lower_case=True)
    tok = ChineseCLIPTokenizer(vocab, context_length=12)
    for text, row in zip(TEXTS, tok(TEXTS)):
        clean = text.lower().replace('\u201c', '"').replace('\u201d', '"')
        expected = [ref.cls_token_id, *ref.convert_tokens_to_ids(ref.tokenize(clean))[:10], ref.sep_token_id]
        assert row[:len(expected)].tolist() == expected and not row[len(expected):].any()


def test_missing_vocabulary_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv('FOVEA_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    cfg = dict(type='FullTokenizer', vocab_file=CHINESE_VOCAB_URL)   # MMPretrain's configs: never downloaded
    where = tmp_path / 'home' / 'tokenizers' / 'chinese_clip' / 'vocab.txt'
    with pytest.raises(ConfigError) as err:
        build_chinese_clip_tokenizer(cfg)
    assert str(where) in str(err.value) and 'vocab_file' in str(err.value) and CHINESE_VOCAB_URL in str(err.value)
    where.parent.mkdir(parents=True)
    write_vocab(where.parent)
    assert build_chinese_clip_tokenizer(cfg).vocab_file == where
    with pytest.raises(ConfigError, match='is not a vocab.txt'):
        ChineseCLIPTokenizer(tmp_path / 'nowhere' / 'vocab.txt')


def test_hub_name_is_read_from_the_local_hugging_face_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('FOVEA_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    snap = tmp_path / 'hf' / 'hub' / 'models--OFA-Sys--chinese-clip-vit-base-patch16' / 'snapshots' / 'abc'
    snap.mkdir(parents=True)
    write_vocab(snap)
    tok = build_chinese_clip_tokenizer(dict(type='AutoTokenizer', name_or_path='OFA-Sys/chinese-clip-vit-base-patch16'))
    assert tok.vocab_file == snap / 'vocab.txt' and tok.vocab_size == len(VOCAB)


def test_bad_vocabulary_and_arguments(tmp_path):
    path = write_vocab(tmp_path, [t for t in VOCAB if t != '[CLS]'])
    with pytest.raises(ConfigError, match=r'Chinese CLIP tokenizer: .*lacks the special tokens \[CLS\]'):
        ChineseCLIPTokenizer(path)
    with pytest.raises(ConfigError, match='unexpected arguments'):
        build_chinese_clip_tokenizer(dict(type='FullTokenizer', vocab_file=str(path), max_len=3))
    with pytest.raises(ConfigError, match='not supported for Chinese CLIP'):
        build_chinese_clip_tokenizer(dict(type='CLIPTokenizer'))
    assert torch.equal(ChineseCLIPTokenizer(write_vocab(tmp_path))('猫'), torch.tensor([[2, VOCAB.index('猫'), 3] + [0] * 49]))

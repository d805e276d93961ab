"""BLIP's WordPiece tokenizer: transformers' BertTokenizer ids (with BLIP's [DEC]/[ENC]), padding and
truncation, where the vocabulary is looked for, and the errors for a missing or non-BERT vocabulary."""
from __future__ import annotations

import pytest
import torch

from fovea.data.text.bert_tokenizer import BlipTokenizer, build_blip_tokenizer
from fovea.utils.errors import ConfigError
from tests.multimodal.blip_testutil import VOCAB, write_vocab

TEXTS = ['A picture of the CAT sitting, on a red car!', 'two dogs playing in the Café grass', 'unable xyzq ship.',
         "there's a  dog-cat ??", '', 'a ' * 40]


@pytest.fixture
def vocab(tmp_path):
    return write_vocab(tmp_path)


def test_special_ids_follow_the_vocabulary(vocab):
    tok = BlipTokenizer(str(vocab.parent))
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id) == (0, 1, 2, 3)
    assert (tok.bos_token_id, tok.enc_token_id) == (len(VOCAB), len(VOCAB) + 1)   # added after it, as BLIP
    assert tok.additional_special_tokens_ids == [tok.enc_token_id] and tok.vocab_size == len(VOCAB) + 2


def test_padding_truncation_and_decode(vocab):
    tok = BlipTokenizer(vocab)
    out = tok(TEXTS, padding='max_length', max_length=8)
    assert out.input_ids.shape == (len(TEXTS), 8)
    assert (out.input_ids[:, 0] == tok.cls_token_id).all()
    assert out.input_ids[-1, -1] == tok.sep_token_id                # cut, [SEP] kept last
    assert out.attention_mask[4].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]  # '' -> [CLS] [SEP]
    longest = tok(TEXTS[:2])
    assert longest.input_ids.shape[1] == int(longest.attention_mask.sum(1).max())
    assert tok.decode(longest.input_ids[0]) == 'a picture of the cat sitting, on a red car!'
    assert tok.decode([tok.bos_token_id, *tok.encode('red car')]) == 'red car'


@pytest.mark.reference
def test_ids_equal_transformers(vocab):
    transformers = pytest.importorskip('transformers')
    ref = transformers.BertTokenizer(vocab=str(vocab))
    ref.add_special_tokens({'bos_token': '[DEC]'})
    ref.add_special_tokens({'additional_special_tokens': ['[ENC]']})
    tok = BlipTokenizer(vocab)
    for kw in (dict(padding='longest'), dict(padding='max_length', max_length=10)):
        a = tok(TEXTS, truncation=True, **kw)
        b = ref(TEXTS, truncation=True, return_tensors='pt', **kw)
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.attention_mask, b.attention_mask)
    assert (tok.bos_token_id, tok.enc_token_id) == (ref.bos_token_id, ref.convert_tokens_to_ids('[ENC]'))
    ids = tok(TEXTS).input_ids
    assert tok.batch_decode(ids) == ref.batch_decode(ids, skip_special_tokens=True)


def test_hub_name_is_found_in_foveas_cache_only_locally(tmp_path, monkeypatch):
    monkeypatch.setenv('FOVEA_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    with pytest.raises(ConfigError) as err:
        build_blip_tokenizer(dict(type='BlipTokenizer', name_or_path='bert-base-uncased'))
    where = tmp_path / 'home' / 'tokenizers' / 'bert-base-uncased' / 'vocab.txt'
    assert str(where) in str(err.value) and 'name_or_path' in str(err.value)
    where.parent.mkdir(parents=True)
    write_vocab(where.parent)
    tok = build_blip_tokenizer(dict(type='BlipTokenizer', name_or_path='bert-base-uncased'))
    assert tok.vocab_size == len(VOCAB) + 2


def test_vocabulary_without_bert_special_tokens_is_refused(tmp_path):
    path = write_vocab(tmp_path, [t for t in VOCAB if t not in ('[CLS]', '[SEP]')])
    with pytest.raises(ConfigError, match=r'lacks the special tokens \[CLS\], \[SEP\]') as err:
        BlipTokenizer(path)
    assert str(path) in str(err.value)


def test_folder_without_vocab_and_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match='has no vocab.txt'):
        BlipTokenizer(tmp_path)
    with pytest.raises(ConfigError, match='unexpected arguments'):
        build_blip_tokenizer(dict(type='BlipTokenizer', name_or_path=str(tmp_path), max_len=3))

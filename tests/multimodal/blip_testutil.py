"""Small BLIP pieces for tests: a BERT-style vocabulary the tests write, and BERT settings with BLIP's
real text sizes (hidden 768, 12 heads, eps 1e-12) but few layers."""
from __future__ import annotations

from pathlib import Path

WORDS = ('a picture of the photo cat dog sitting on red blue car truck bird frog horse ship plane deer is in '
         'an and with there two small big running grass road water sky white black , . ! ? \' - play ##ing ##s '
         '##ed un ##able café').split()
SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
#: ids of the tiny vocabulary; [DEC] and [ENC] come after it
_LETTERS = [chr(c) for c in range(ord('a'), ord('z') + 1)]
VOCAB = SPECIALS + sorted(set(WORDS) | set(_LETTERS)) + ['##' + c for c in _LETTERS if '##' + c not in WORDS]


def write_vocab(folder: Path, tokens=VOCAB) -> Path:
    path = Path(folder) / 'vocab.txt'
    path.write_text('\n'.join(tokens) + '\n', encoding='utf-8')
    return path


def med_config(layers: int = 2, vocab_size: int = len(VOCAB) + 2, cross: bool = True, encoder_width: int = 64,
               hidden: int = 768, heads: int = 12, intermediate: int = 256, **extra) -> dict:
    """MMPretrain-style med_config (its blip configs' keys) with few layers."""
    return dict(architectures=['BertModel'], attention_probs_dropout_prob=0.1, hidden_act='gelu',
                hidden_dropout_prob=0.1, hidden_size=hidden, initializer_range=0.02, intermediate_size=intermediate,
                layer_norm_eps=1e-12, max_position_embeddings=64, model_type='bert', num_attention_heads=heads,
                num_hidden_layers=layers, pad_token_id=0, add_type_embeddings=False, vocab_size=vocab_size,
                encoder_width=encoder_width, add_cross_attention=cross, **extra)

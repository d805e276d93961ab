"""Small Chinese CLIP pieces for tests: a Chinese BERT-style vocabulary the tests write, and ChineseCLIP configs
with MMPretrain's keys (a 2-layer ViT at 32 px or a 1-block-per-stage ResNet at 64 px, a 2-layer BERT)."""
from __future__ import annotations

from pathlib import Path

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
#: single Chinese characters (BERT splits CJK text into characters), a few Latin words and pieces, punctuation
CHARS = list('一张猫狗的照片红色绿色蓝色汽车小鸟飞机在草地上跑这是我大好看可爱苹果熊床蜜蜂')
WORDS = ['a', 'photo', 'of', 'cat', 'dog', '##s', 'jpeg', 'cafe', '"', ',', '.', '。', '，', '!', '?', '2', '##0']
VOCAB = SPECIALS + sorted(set(CHARS)) + WORDS


def write_vocab(folder: Path, tokens=VOCAB) -> Path:
    path = Path(folder) / 'vocab.txt'
    path.write_text('\n'.join(tokens) + '\n', encoding='utf-8')
    return path


def bert_config(layers: int = 2, hidden: int = 64, heads: int = 4, intermediate: int = 128,
                vocab_size: int = len(VOCAB)) -> dict:
    """MMPretrain's BertModelCN config keys, small."""
    return dict(vocab_size=vocab_size, pad_token_id=0, add_type_embeddings=True, attention_probs_dropout_prob=0.1,
                hidden_act='gelu', hidden_dropout_prob=0.1, hidden_size=hidden, initializer_range=0.02,
                intermediate_size=intermediate, max_position_embeddings=64, num_attention_heads=heads,
                num_hidden_layers=layers, type_vocab_size=2, layer_norm_eps=1e-12)


TINY_VIT = dict(type='VisionTransformer', arch=dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=256),
                img_size=32, patch_size=8, norm_cfg=dict(type='LN', eps=1e-5), final_norm=True,
                layer_cfgs=dict(act_cfg=dict(type='QuickGELU')), pre_norm=True, out_type='cls_token')
TINY_RN = dict(type='ModifiedResNet', depth=None, layers=[1, 1, 1, 1], base_channels=16, input_size=64,
               num_attn_heads=4, output_dim=32)


def model_cfg(vocab: Path | str | None, vision: dict = TINY_VIT, proj_dim: int = 32, **overrides) -> dict:
    cfg = dict(type='ChineseCLIP', vision_backbone=dict(vision), text_backbone=dict(type='BertModelCN', config=bert_config()),
               tokenizer=dict(type='FullTokenizer', vocab_file=str(vocab)) if vocab is not None else None,
               proj_dim=proj_dim, context_length=16,
               data_preprocessor=dict(mean=[122.770938, 116.7460125, 104.09373615],
                                      std=[68.5005327, 66.6321579, 70.32316305], to_rgb=False))
    cfg.update(overrides)
    return cfg


def tiny_chinese_clip(vocab, **kwargs):
    from fovea.registry import MODELS
    return MODELS.build(model_cfg(vocab, **kwargs)).eval()

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


def tiny_vit(width: int = 64, size: int = 32, patch: int = 8, layers: int = 2) -> dict:
    """BLIP's image encoder shape (post-norm ViT, all tokens out, LayerNorm eps 1e-6) at test size."""
    return dict(type='VisionTransformer', arch=dict(embed_dims=width, num_layers=layers, num_heads=4,
                                                    feedforward_channels=width * 2),
                img_size=size, patch_size=patch, out_type='raw', norm_cfg=dict(type='LN', eps=1e-6))


def caption_cfg(vocab_dir, layers: int = 2, hidden: int = 768, heads: int = 12, **kw) -> dict:
    return dict(type='BlipCaption', vision_encoder=tiny_vit(),
                tokenizer=dict(type='BlipTokenizer', name_or_path=str(vocab_dir)),
                decoder_head=dict(type='SeqGenerationHead', decoder=dict(
                    type='XBertLMHeadDecoder', med_config=med_config(layers, hidden=hidden, heads=heads))),
                prompt='a picture of ', max_txt_len=20, **kw)


def retrieval_cfg(vocab_dir, layers: int = 2, queue_size: int = 8, hidden: int = 768, heads: int = 12,
                  **kw) -> dict:
    return dict(type='BlipRetrieval', tokenizer=dict(type='BlipTokenizer', name_or_path=str(vocab_dir)),
                vision_backbone=tiny_vit(),
                text_backbone=dict(type='XBertEncoder', med_config=med_config(layers, hidden=hidden, heads=heads)),
                vision_neck=dict(type='Linear', in_features=64, out_features=32),
                text_neck=dict(type='Linear', in_features=hidden, out_features=32),
                head=dict(type='ITCHead', embed_dim=32, queue_size=queue_size),
                multimodal_head=dict(type='ITMHead', hidden_size=hidden, with_pooler=False), topk=4, max_txt_len=12,
                **kw)


def salesforce_names(sd: dict, vision: str, text: dict) -> dict:
    """fovea BLIP names -> Salesforce BLIP's (timm ViT names under visual_encoder., BERT under text_*)."""
    import re
    vit = [(r'patch_embed\.projection\.', 'patch_embed.proj.'), (r'layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
           (r'layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'), (r'layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
           (r'layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
           (r'layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'), (r'^ln1\.', 'norm.')]
    out = {}
    for k, v in sd.items():
        if k.startswith(vision):
            name = k[len(vision):]
            for pat, rep in vit:
                name = re.sub(pat, rep, name)
            out['visual_encoder.' + name] = v
        for theirs, ours in text.items():
            if k.startswith(ours):
                out[theirs + k[len(ours):]] = v
    return out

"""Tiny BLIP VQA / grounding / NLVR models for tests: 2-layer ViT at 32 px, 2-layer BERTs of width 64
(the reference tests use BLIP's real text width), a vocabulary the tests write (with BERT's unused tokens
that grounding writes boxes in)."""
from __future__ import annotations

from pathlib import Path

from fovea.apis.model import build_model_from_cfg
from tests.multimodal.blip_testutil import VOCAB, med_config, write_vocab

#: the test vocabulary plus the box tokens of GroundingHead ([unused339] prefix, [unused340..980] bins)
TASK_VOCAB = VOCAB + [f'[unused{i}]' for i in range(339, 981)]
VOCAB_SIZE = len(TASK_VOCAB) + 2        # + [DEC], [ENC]


def vit(width: int = 64) -> dict:
    return dict(type='VisionTransformer', arch=dict(embed_dims=width, num_layers=2, num_heads=2,
                                                     feedforward_channels=2 * width),
                img_size=32, patch_size=8, out_type='raw', drop_rate=0.0)


def bert(width: int = 64, encoder_width: int = 64, **extra) -> dict:
    cfg = med_config(hidden=width, heads=max(1, width // 32), vocab_size=VOCAB_SIZE, encoder_width=encoder_width,
                     intermediate=2 * width, **extra)
    return dict(cfg, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def tokenizer_cfg(folder: Path, tokens=TASK_VOCAB) -> dict:
    if not (Path(folder) / 'vocab.txt').is_file():
        write_vocab(folder, tokens)
    return dict(type='BlipTokenizer', name_or_path=str(folder))


def vqa_cfg(folder: Path, **head) -> dict:
    head = dict(dict(type='VQAGenerationHead', decoder=dict(type='XBertLMHeadDecoder', med_config=bert())), **head)
    return dict(type='BlipVQA', tokenizer=tokenizer_cfg(folder), vision_backbone=vit(),
                multimodal_backbone=dict(type='XBertEncoder', med_config=bert()), head=head)


def tiny_vqa(folder: Path, **head):
    return build_model_from_cfg(vqa_cfg(folder, **head))


def tiny_grounding(folder: Path, tokens=TASK_VOCAB):
    return build_model_from_cfg(dict(
        type='BlipGrounding', tokenizer=tokenizer_cfg(folder, tokens), visual_encoder=vit(),
        text_encoder=dict(type='XBertEncoder', med_config=bert()),
        multimodal_encoder=dict(type='XBertEncoder', med_config=bert()),
        head=dict(type='GroundingHead', decoder=dict(type='XBertLMHeadDecoder', med_config=bert()))))


def tiny_nlvr(folder: Path, layers: int = 7, nlvr: bool = True):
    return build_model_from_cfg(dict(
        type='BlipNLVR', tokenizer=tokenizer_cfg(folder), vision_backbone=vit(),
        multimodal_backbone=dict(type='BertModel', config=bert(layers=layers, nlvr=nlvr), add_pooling_layer=False)))

"""Parity with transformers' ChineseCLIPModel: its random weights (real text sizes: hidden 768, 12 heads; two
layers, 32 px images) converted into fovea's ChineseCLIP give the same image and text embeddings and logits, read
from its own state dict and from the same weights in OFA-Sys' checkpoint layout."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from tests.multimodal.chinese_clip_testutil import TINY_VIT, VOCAB, bert_config, tiny_chinese_clip, write_vocab
from tests.multimodal.test_chinese_clip_model import to_ofa_sys

pytestmark = pytest.mark.reference

TEXTS = ['一张猫的照片', '红色汽车在草地上', '这是我的狗。', 'a photo of a cat']


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    transformers = pytest.importorskip('transformers')
    torch.manual_seed(0)
    vision = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, hidden_act='quick_gelu', layer_norm_eps=1e-5)
    text = dict(vocab_size=len(VOCAB), hidden_size=768, num_hidden_layers=2, num_attention_heads=12,
                intermediate_size=3072, max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
                hidden_act='gelu', pad_token_id=0)
    config = transformers.ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=32)
    ref = transformers.ChineseCLIPModel(config).eval()
    with torch.no_grad():   # random weights everywhere, LayerNorms and biases included
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    vocab = write_vocab(tmp_path_factory.mktemp('cn_ref'))
    ours = tiny_chinese_clip(vocab, text_backbone=dict(type='BertModelCN', config=bert_config(
        hidden=768, heads=12, intermediate=3072)), vision_backbone=dict(TINY_VIT), proj_dim=32)
    return ref, ours, vocab


def _reference_outputs(ref, ids, images):
    """Unnormalised image and text embeddings, and the logits."""
    mask = ids.ne(0).long()
    with torch.no_grad():
        image = ref.get_image_features(pixel_values=images)
        text = ref.get_text_features(input_ids=ids, attention_mask=mask)
        logits = ref(input_ids=ids, attention_mask=mask, pixel_values=images).logits_per_image
    return getattr(image, 'pooler_output', image), getattr(text, 'pooler_output', text), logits


def test_transformers_chinese_clip_converts_with_equal_embeddings_and_logits(pair, tmp_path):
    ref, ours, _ = pair
    ids = ours.tokenize(TEXTS)
    images = torch.randn(3, 3, 32, 32)
    image_ref, text_ref, logits_ref = _reference_outputs(ref, ids, images)
    for source in ('transformers', 'ofa-sys'):
        load_weights(ours, ref.state_dict(), strict=True)
        if source == 'ofa-sys':
            path = tmp_path / 'clip_cn.pt'
            torch.save(to_ofa_sys(ours, torch.float32), path)
            ours.init_weights()
            load_weights(ours, str(path), strict=True)
        with torch.no_grad():
            image, text = ours.extract_image_feat(images), ours.extract_text_feat(ids)
            logits, _ = ours.compute_similarity(images, ids)
        assert torch.allclose(image, image_ref, atol=1e-4), source
        assert torch.allclose(text, text_ref, atol=1e-4), source
        assert torch.allclose(logits, logits_ref, atol=1e-4), source

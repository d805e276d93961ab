"""fovea's BLIP against transformers' (random weights, BLIP's real text sizes: hidden 768, 12 heads,
eps 1e-12; vision eps 1e-6 as BLIP's ViT; 2 layers and 32 px images): BlipForConditionalGeneration and
BlipForImageTextRetrieval converted into fovea give the same logits, greedy and beam-search token ids,
and ITM/ITC scores."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.registry import MODELS
from tests.multimodal.blip_testutil import VOCAB, caption_cfg, retrieval_cfg, write_vocab

pytestmark = pytest.mark.reference
transformers = pytest.importorskip('transformers')

V = len(VOCAB) + 2
TEXTS = ['a cat sitting on the red car', 'two dogs playing in the grass', 'a ship on the water',
         'there is a small bird']


def _config(**kw):
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, layer_norm_eps=1e-6)
    text = dict(vocab_size=V, hidden_size=768, encoder_hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=12, max_position_embeddings=64, layer_norm_eps=1e-12, bos_token_id=V - 2,
                pad_token_id=0, sep_token_id=3)
    return transformers.BlipConfig(vision_config=vision, text_config=text, **kw)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp('vocab')).parent


def _distinct_and_ending(model, eos: int):
    """transformers initialises the vision weights with std 1e-10 (every image would look the same):
    give them spread; sharpen the text weights and favour eos, so captions differ per image and some end
    (at different steps) before max_length."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith('vision_model') and p.dim() > 1:
                torch.nn.init.normal_(p, std=0.5)
            elif 'text_decoder' in name and 'LayerNorm' not in name:
                p.mul_(3.0)
        model.text_decoder.cls.predictions.bias[eos] += 8.0


def _until_eos(ids: torch.Tensor, eos: int) -> list[list[int]]:
    """Each row up to and including its first eos: what follows is padding, which transformers fills with
    eos when the pad id is 0 (``pad_token_id or eos_token_id``) and fovea with the pad id."""
    rows = []
    for row in ids.tolist():
        rows.append(row[:row.index(eos) + 1] if eos in row else row)
    return rows


def test_caption_logits_and_generation_equal_transformers(vocab):
    torch.manual_seed(0)
    ref = transformers.BlipForConditionalGeneration(_config()).eval()
    _distinct_and_ending(ref, eos=3)
    ours = MODELS.build(caption_cfg(vocab)).eval()
    report = load_weights(ours, ref.state_dict(), require_all=True)
    assert report.source == 'blip'
    images = torch.randn(3, 3, 32, 32)
    tok = ours.tokenizer
    text = tok(['a picture of ' + t for t in TEXTS[:3]])
    ids = text.input_ids.clone()
    ids[:, 0] = tok.bos_token_id
    with torch.no_grad():
        a = ref(pixel_values=images, input_ids=ids, attention_mask=text.attention_mask).logits
        embeds = ours.extract_feat(images)
        b = ours.seq_gen_head.decoder(ids, attention_mask=text.attention_mask, encoder_hidden_states=embeds).logits
    assert (a - b).abs().max() < 1e-4
    prompt = tok(['a picture of'] * 3)
    mine = ours._prompt_ids(3, 'cpu')
    seen, ended = set(), set()
    for kw in (dict(num_beams=1, max_length=12), dict(num_beams=3, max_length=12),
               dict(num_beams=3, max_length=12, min_length=7), dict(num_beams=1, max_length=10, repetition_penalty=1.5),
               dict(num_beams=4, max_length=10, repetition_penalty=1.3, length_penalty=0.6)):
        theirs = ref.generate(pixel_values=images, input_ids=prompt.input_ids.clone(),
                              attention_mask=prompt.attention_mask, do_sample=False, **kw)
        gen = ours.seq_gen_head.predict(mine, embeds, sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id,
                                        min_length=kw.pop('min_length', 0), **kw)
        rows = _until_eos(gen, tok.sep_token_id)
        assert rows == _until_eos(theirs, tok.sep_token_id), kw
        seen |= {tuple(r) for r in rows}
        ended |= {len(r) for r in rows if r[-1] == tok.sep_token_id}
    assert len(seen) > 3 and len(ended) > 1     # captions differ with the image and end at different steps


def test_retrieval_itm_and_itc_scores_equal_transformers(vocab):
    torch.manual_seed(1)
    ref = transformers.BlipForImageTextRetrieval(_config(image_text_hidden_size=32)).eval()
    ours = MODELS.build(retrieval_cfg(vocab)).eval()
    report = load_weights(ours, ref.state_dict(), require_all=True)
    assert report.source == 'blip'
    assert torch.equal(ours.vision_backbone_m.ln1.weight, ours.vision_backbone.ln1.weight)   # re-derived
    images = torch.randn(4, 3, 32, 32)
    text = ours._tokenize(TEXTS, 'cpu')
    enc_ids = text.input_ids.clone()
    enc_ids[:, 0] = ours.tokenizer.enc_token_id          # BLIP's image-grounded encoder starts with [ENC]
    with torch.no_grad():
        itm = ref(input_ids=enc_ids, pixel_values=images, attention_mask=text.attention_mask).itm_score
        itc = ref(input_ids=text.input_ids, pixel_values=images, attention_mask=text.attention_mask,
                  use_itm_head=False).itm_score
    torch.testing.assert_close(ours.itm_score(images, TEXTS), itm.softmax(-1)[:, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.itc_score(images, TEXTS), itc, atol=1e-5, rtol=0)

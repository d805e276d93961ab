"""fovea's BlipVQA against transformers' BlipForQuestionAnswering (random weights converted into fovea;
BLIP's real text sizes: hidden 768, 12 heads, eps 1e-12; the image width is 768 too, as transformers'
model has one text config for the question encoder and the answer decoder; 2 layers, 32 px images):
question states, answer logits and losses, greedy and beam-search answer ids, and the candidate scores
that answer ranking compares.

The questions have one token length: transformers 5.24's BLIP text model drops ``encoder_attention_mask``
(its padding has no effect on the cross-attention), while fovea, MMPretrain and BLIP mask padded question
tokens when ranking; unpadded questions make the two agree. Generation attends to every question token
in all of them."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.registry import MODELS
from tests.multimodal.blip_testutil import VOCAB, med_config, write_vocab

pytestmark = pytest.mark.reference
transformers = pytest.importorskip('transformers')

V = len(VOCAB) + 2
WIDTH = 768
QUESTIONS = ['is the cat on a car?', 'is a dog in the sky?', 'is the bird on a car?']   # 7 tokens each
ANSWERS = ['a cat', 'two', 'a ship', 'the blue sky', 'dog', 'white']


def _hf_config():
    vision = dict(hidden_size=WIDTH, intermediate_size=256, num_hidden_layers=2, num_attention_heads=12, image_size=32,
                  patch_size=8, layer_norm_eps=1e-6)
    text = dict(vocab_size=V, hidden_size=WIDTH, encoder_hidden_size=WIDTH, intermediate_size=256, num_hidden_layers=2,
                num_attention_heads=12, max_position_embeddings=64, layer_norm_eps=1e-12, bos_token_id=V - 2,
                pad_token_id=0, sep_token_id=3, label_smoothing=0.1)     # BLIP's (and fovea's) decoder smoothing
    return transformers.BlipConfig(vision_config=vision, text_config=text)


def _fovea_cfg(vocab_dir, **head) -> dict:
    vit = dict(type='VisionTransformer', arch=dict(embed_dims=WIDTH, num_layers=2, num_heads=12, feedforward_channels=256),
               img_size=32, patch_size=8, out_type='raw', norm_cfg=dict(type='LN', eps=1e-6))
    bert = med_config(2, encoder_width=WIDTH)
    return dict(type='BlipVQA', tokenizer=dict(type='BlipTokenizer', name_or_path=str(vocab_dir)), vision_backbone=vit,
                multimodal_backbone=dict(type='XBertEncoder', med_config=bert),
                head=dict(dict(type='VQAGenerationHead', decoder=dict(type='XBertLMHeadDecoder', med_config=bert)),
                          **head))


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    """transformers' model (its vision weights given spread: they start at std 1e-10, every image alike;
    the decoder sharpened, so answers differ and end at different steps) and fovea's
    model with its weights."""
    torch.manual_seed(0)
    ref = transformers.BlipForQuestionAnswering(_hf_config()).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.startswith('vision_model') and p.dim() > 1:
                torch.nn.init.normal_(p, std=0.05)
            elif name.startswith('text_decoder') and 'LayerNorm' not in name:
                p.mul_(3.0)
    vocab = write_vocab(tmp_path_factory.mktemp('vqa_ref_vocab')).parent
    ours = MODELS.build(_fovea_cfg(vocab, inference_method='rank', answer_list=ANSWERS,
                                   num_ans_candidates=len(ANSWERS))).eval()
    report = load_weights(ours, ref.state_dict(), require_all=True)
    assert report.source == 'blip'
    return ref, ours


def _questions(ours):
    from fovea.structures import DataSample
    return [DataSample(question=q) for q in QUESTIONS]


@pytest.fixture(scope='module')
def images():
    torch.manual_seed(1)
    return torch.randn(3, 3, 32, 32)


@torch.no_grad()
def test_question_states_answer_logits_and_loss_equal_transformers(pair, images):
    ref, ours = pair
    states, q_mask = ours.encode_questions(images, _questions(ours))
    q = ours.tokenizer(QUESTIONS)
    ids = q.input_ids.clone()
    ids[:, 0] = ours.tokenizer.enc_token_id                     # fovea's questions start with [ENC], as BLIP's
    image_embeds = ref.vision_model(pixel_values=images).last_hidden_state
    ref_states = ref.text_encoder(input_ids=ids, attention_mask=q.attention_mask, encoder_hidden_states=image_embeds)[0]
    assert (states - ref_states).abs().max() < 1e-4
    a = ours._answer_tokens(['a cat', 'two', 'the blue sky'], 'cpu')
    ref_logits = ref.text_decoder(input_ids=a.input_ids, attention_mask=a.attention_mask, encoder_hidden_states=ref_states,
                                  encoder_attention_mask=q.attention_mask).logits
    feats = dict(answer_input_ids=a.input_ids, answer_attention_mask=a.attention_mask, question_states=states,
                 question_atts=q_mask)
    assert q_mask.all()
    assert (ours.vqa_head(feats) - ref_logits[:, :-1]).abs().max() < 1e-4
    labels = a.input_ids.masked_fill(a.input_ids == 0, -100)
    ref_loss = ref(input_ids=ids, pixel_values=images, attention_mask=q.attention_mask, labels=labels,
                   decoder_input_ids=a.input_ids, decoder_attention_mask=a.attention_mask).loss
    loss = ours.vqa_head.decoder(a.input_ids, attention_mask=a.attention_mask, encoder_hidden_states=states,
                                 encoder_attention_mask=q_mask, labels=labels).loss
    assert abs(float(loss - ref_loss)) < 1e-4


@torch.no_grad()
def test_ranking_scores_and_answers_equal_transformers(pair, images):
    ref, ours = pair
    states, q_mask = ours.encode_questions(images, _questions(ours))
    cands = ours._answer_tokens(ANSWERS, 'cpu')
    targets = cands.input_ids.masked_fill(cands.input_ids == 0, -100)
    n = len(ANSWERS)
    best = []
    for i in range(len(QUESTIONS)):
        ref_scores = -ref.text_decoder(input_ids=cands.input_ids, attention_mask=cands.attention_mask,
                                       encoder_hidden_states=states[i:i + 1].expand(n, -1, -1),
                                       encoder_attention_mask=q_mask[i:i + 1].expand(n, -1), labels=targets,
                                       reduction='none').loss
        scores = -ours.vqa_head.decoder(cands.input_ids, attention_mask=cands.attention_mask,
                                        encoder_hidden_states=states[i:i + 1].expand(n, -1, -1),
                                        encoder_attention_mask=q_mask[i:i + 1].expand(n, -1), labels=targets,
                                        reduction='none').loss
        assert (scores - ref_scores).abs().max() < 1e-4
        best.append(ANSWERS[int(ref_scores.argmax())])
    assert [s.pred_answer for s in ours.predict(images, _questions(ours))] == best


def _until_eos(ids: torch.Tensor, eos: int = 3) -> list[list[int]]:
    """Each row up to its first eos (transformers pads ended rows with eos when the pad id is 0)."""
    return [row[:row.index(eos) + 1] if eos in row else row for row in ids.tolist()]


@torch.no_grad()
@pytest.mark.parametrize('num_beams', [1, 3])
def test_generated_answer_ids_equal_transformers(pair, images, num_beams):
    ref, ours = pair
    states, _ = ours.encode_questions(images, _questions(ours))
    q = ours.tokenizer(QUESTIONS)
    ids = q.input_ids.clone()
    ids[:, 0] = ours.tokenizer.enc_token_id
    expected = ref.generate(input_ids=ids, pixel_values=images, attention_mask=q.attention_mask, max_length=10,
                            min_length=1, num_beams=num_beams, do_sample=False)
    ours.vqa_head.num_beams = num_beams
    feats = dict(multimodal_embeds=states, bos_token_id=ours.tokenizer.bos_token_id,
                 sep_token_id=ours.tokenizer.sep_token_id, pad_token_id=ours.tokenizer.pad_token_id)
    got = ours.vqa_head.predict_generate(feats)
    assert _until_eos(got) == _until_eos(expected)
    assert len({tuple(r) for r in _until_eos(got)}) > 1          # the answers differ per image and question

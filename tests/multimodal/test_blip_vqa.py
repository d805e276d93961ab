"""BlipVQA and VQAGenerationHead: the training loss, answer ranking over a candidate list, open-ended
generation, and the errors for questions without images or answers."""
from __future__ import annotations

import json

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError
from tests.multimodal.blip_task_models import tiny_vqa
from tests.multimodal.blip_testutil import salesforce_names

ANSWERS = ['cat', 'dog', 'red car', 'two', 'blue sky']
STEPS = 20


@pytest.fixture(scope='module')
def vocab_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('blip_vqa_vocab')


@pytest.fixture(scope='module')
def rank_model(vocab_dir):
    torch.manual_seed(0)
    return tiny_vqa(vocab_dir, inference_method='rank', answer_list=ANSWERS, num_ans_candidates=3).eval()


def _questions(*qs, **fields):
    return [DataSample(question=q, **fields) for q in qs]


def test_loss_is_the_weighted_answer_loss_over_the_batch(rank_model):
    m = rank_model
    images = torch.randn(2, 3, 32, 32)
    samples = [DataSample(question='what is this?', gt_answer=['cat', 'dog'], gt_answer_weight=[0.75, 0.25]),
               DataSample(question='how many?', gt_answer='two')]     # no weight: BLIP's 0.2
    loss = m.loss(images, samples)['vqa_loss']
    states, mask = m.encode_questions(images, samples)
    expected = 0
    for row, answer, weight in ((0, 'cat', 0.75), (0, 'dog', 0.25), (1, 'two', 0.2)):
        ids = m.tokenizer([answer]).input_ids
        assert ids[0, 0] == m.tokenizer.cls_token_id
        ids[:, 0] = m.tokenizer.bos_token_id                      # answers are decoded from [DEC]
        logits = m.vqa_head.decoder(ids, encoder_hidden_states=states[row:row + 1],
                                    encoder_attention_mask=mask[row:row + 1]).logits
        expected += weight * torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:], reduction='sum')
    torch.testing.assert_close(loss, expected / 2, rtol=1e-5, atol=1e-5)


def test_questions_start_with_the_enc_token(rank_model):
    """The image-grounded encoder reads ``[ENC] question [SEP]`` (BLIP): [CLS] first gives other states."""
    m = rank_model
    images = torch.randn(1, 3, 32, 32)
    states, _ = m.encode_questions(images, _questions('is there a dog?'))
    tokens = m.tokenizer(['is there a dog?'])
    embeds = m.extract_feat(images)
    ids = tokens.input_ids.clone()
    ids[:, 0] = m.tokenizer.enc_token_id
    ref = m.multimodal_backbone(ids, attention_mask=tokens.attention_mask, encoder_hidden_states=embeds)
    torch.testing.assert_close(states, ref.last_hidden_state)
    cls = m.multimodal_backbone(tokens.input_ids, attention_mask=tokens.attention_mask, encoder_hidden_states=embeds)
    assert not torch.allclose(states, cls.last_hidden_state)


def _sequence_scores(m, states, mask, answers):
    """-(label-smoothed sequence loss) of every answer for one question (BLIP's ranking score)."""
    ids = m.tokenizer(answers).input_ids
    ids[:, 0] = m.tokenizer.bos_token_id
    att = (ids != m.tokenizer.pad_token_id).long()
    targets = ids.masked_fill(ids == m.tokenizer.pad_token_id, -100)
    n = len(answers)
    out = m.vqa_head.decoder(ids, attention_mask=att, encoder_hidden_states=states.expand(n, -1, -1),
                             encoder_attention_mask=mask.expand(n, -1), labels=targets, reduction='none')
    return -out.loss


def test_rank_picks_the_best_scored_of_the_first_token_candidates(rank_model):
    m = rank_model
    torch.manual_seed(1)
    images = torch.randn(4, 3, 32, 32)
    samples = _questions('what is this?', 'is it red?', 'how many dogs?', 'what color is the sky?')
    preds = [s.pred_answer for s in m.predict(images, samples)]
    states, mask = m.encode_questions(images, _questions(*[s.question for s in samples]))
    bos = torch.full((4, 1), m.tokenizer.bos_token_id)
    first = m.vqa_head.decoder(bos, encoder_hidden_states=states, encoder_attention_mask=mask).logits[:, 0].softmax(-1)
    first_ids = torch.tensor([m.tokenizer.encode(a)[0] for a in ANSWERS])
    for i, pred in enumerate(preds):
        shortlist = first[i, first_ids].topk(3).indices.tolist()     # num_ans_candidates=3
        scores = _sequence_scores(m, states[i:i + 1], mask[i:i + 1], [ANSWERS[j] for j in shortlist])
        assert pred == ANSWERS[shortlist[int(scores.argmax())]]


def test_trained_model_answers_by_ranking_and_by_generation(vocab_dir):
    """A few steps on two image-question pairs: ranking the answer list and open-ended generation (beam
    search) both give the trained answers."""
    torch.manual_seed(0)
    m = tiny_vqa(vocab_dir, inference_method='rank', answer_list=ANSWERS)
    images = torch.randn(2, 3, 32, 32)
    qs = ['what is in the picture?', 'what is in the picture?']         # the image decides
    train = [DataSample(question=q, gt_answer=[a], gt_answer_weight=[1.0]) for q, a in zip(qs, ['cat', 'dog'])]
    opt = torch.optim.AdamW(m.parameters(), lr=5e-3)
    for _ in range(STEPS):
        loss = m.loss(images, train)['vqa_loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    assert [s.pred_answer for s in m.predict(images, _questions(*qs))] == ['cat', 'dog']
    m.vqa_head.inference_method = 'generate'
    assert [s.pred_answer for s in m.predict(images, _questions(*qs))] == ['cat', 'dog']


def test_video_clips_attend_to_every_frame(rank_model):
    m = rank_model
    clip = torch.randn(1, 3, 3, 32, 32)
    tokens = m.extract_feat(clip)
    assert tokens.shape[:2] == (1, 3 * 17)
    torch.testing.assert_close(tokens[0, 17:34], m.extract_feat(clip[:, 1])[0])


def test_answer_list_is_read_on_first_use(vocab_dir, tmp_path):
    path = tmp_path / 'answers.json'
    m = tiny_vqa(vocab_dir, inference_method='rank', answer_list_path=str(path))   # builds before the file exists
    path.write_text(json.dumps({'yes': 3, 'no': 2, 'two': 1}))
    assert m.vqa_head.answer_list == ['yes', 'no', 'two'] and m.vqa_head.num_ans_candidates == 3
    bad = tiny_vqa(vocab_dir, inference_method='rank', answer_list_path=str(tmp_path / 'nothing.json'))
    with pytest.raises(ConfigError, match='nothing.json'):
        bad.predict(torch.randn(1, 3, 32, 32), _questions('what?'))


def test_salesforce_vqa_checkpoints_load(rank_model, vocab_dir):
    """Salesforce BLIP's VQA layout (timm ViT under visual_encoder., text_encoder., text_decoder.) -> BlipVQA."""
    sd = rank_model.state_dict()
    theirs = salesforce_names(sd, 'vision_backbone.', {'text_encoder.': 'multimodal_backbone.',
                                                       'text_decoder.': 'vqa_head.decoder.'})
    assert 'text_encoder.encoder.layer.0.crossattention.self.key.weight' in theirs
    model = tiny_vqa(vocab_dir, inference_method='rank', answer_list=ANSWERS)
    assert load_weights(model, theirs, require_all=True).source == 'blip'
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in sd.items())


def test_bad_input_is_named(rank_model, vocab_dir):
    m = rank_model
    with pytest.raises(DataError, match='no images: every question needs its image'):
        m.predict(None, _questions('what is this?'))
    with pytest.raises(DataError, match='no images'):     # through the data preprocessor, as the Runner calls it
        m.val_step({'data_samples': _questions('what is this?')})
    with pytest.raises(DataError, match=r"sample\(s\) \[1\].*'question'"):
        m.predict(torch.randn(2, 3, 32, 32), [DataSample(question='a?'), DataSample(text='not a question')])
    with pytest.raises(DataError, match='2 images but 1 samples'):
        m.predict(torch.randn(2, 3, 32, 32), _questions('a?'))
    with pytest.raises(DataError, match='sample 0 of the batch has no gt_answer'):
        m.loss(torch.randn(1, 3, 32, 32), _questions('a?'))
    with pytest.raises(DataError, match='2 answers but 1 gt_answer_weight'):
        m.loss(torch.randn(1, 3, 32, 32), [DataSample(question='a?', gt_answer=['x', 'y'], gt_answer_weight=[1.0])])
    with pytest.raises(ConfigError, match='answer_list_path'):
        tiny_vqa(vocab_dir, inference_method='rank')
    with pytest.raises(ConfigError, match="'generate' or 'rank'"):
        tiny_vqa(vocab_dir, inference_method='beam')

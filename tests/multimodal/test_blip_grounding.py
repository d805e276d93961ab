"""BlipGrounding and GroundingHead: boxes written as four bin tokens, decoded back into pixels of the
original image; a model trained on two referring expressions finds their boxes."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError
from tests.multimodal.blip_task_models import TASK_VOCAB, tiny_grounding


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    torch.manual_seed(0)
    return tiny_grounding(tmp_path_factory.mktemp('blip_ground_vocab'))


def test_box_tokens_are_the_bert_unused_tokens(model):
    head = model.grounding_head
    # built without a vocabulary at hand: bert-base-uncased's ids ([unused339] is line 345 of its vocab.txt)
    assert head.prefix_ids.tolist() == [344] and head.target_ids[0] == 345 and head.target_ids[-1] == 985
    model.predict(torch.randn(1, 3, 32, 32), [DataSample(text='a dog')])      # binds the model's tokenizer
    line = {t: i for i, t in enumerate(TASK_VOCAB)}
    assert head.prefix_ids.tolist() == [line['[unused339]']]
    assert head.target_ids[0] == line['[unused340]'] and head.target_ids[-1] == line['[unused980]']
    assert len(head.target_ids) == 641 and head.bbox_prob_mask.shape == (len(model.tokenizer),)
    assert {k for k in model.state_dict() if k.startswith('grounding_head.') and 'decoder' not in k} == \
        {'grounding_head.prefix_ids', 'grounding_head.target_ids', 'grounding_head.bbox_prob_mask'}
    # token ids -> (cx, cy, w, h) / 640 -> x1 y1 x2 y2, clipped to the image
    ids = head.bin_start_idx + torch.tensor([[320, 320, 640, 320], [0, 0, 100, 100]])
    torch.testing.assert_close(head.process_bbox(ids), torch.tensor([[0.0, 0.25, 1.0, 0.75], [0, 0, 100 / 1280, 100 / 1280]]))


def test_predictions_are_box_tokens_scaled_to_the_original_image(model):
    model.eval()
    samples = [DataSample(text='the red car', scale_factor=(0.5, 2.0), gt_bboxes=torch.tensor([[2.0, 4.0, 10.0, 20.0]])),
               DataSample(text='a dog')]
    out = model.predict(torch.randn(2, 3, 32, 32), samples)
    for s in out:
        assert s.pred_bboxes.shape == (1, 4)
    # the first image was resized by (0.5, 2.0): its 32 x 32 input is 64 wide and 16 high originally
    assert (out[0].pred_bboxes[0, 0::2] <= 64).all() and (out[0].pred_bboxes[0, 1::2] <= 16).all()
    torch.testing.assert_close(out[0].gt_bboxes, torch.tensor([[4.0, 2.0, 20.0, 10.0]]))
    # the decoded ids are box tokens only (the mask keeps every other token out)
    feats = model._encode(torch.randn(2, 3, 32, 32), [DataSample(text='a'), DataSample(text='b')])
    memory, mask = model.grounding_head._memory(**feats)
    prefix = model.grounding_head.prefix_ids.expand(2, 1)
    best = model.grounding_head(prefix, memory, mask)[:, -1].argmax(-1)
    assert ((best >= model.grounding_head.bin_start_idx) & (best <= model.grounding_head.bin_start_idx + 640)).all()


def test_trained_model_finds_the_boxes(model):
    torch.manual_seed(0)
    images = torch.stack([torch.full((3, 32, 32), -1.0), torch.full((3, 32, 32), 1.0)])
    boxes = torch.tensor([[2.0, 4.0, 12.0, 30.0], [16.0, 8.0, 31.0, 20.0]])
    train = [DataSample(text=t, gt_bboxes=b[None]) for t, b in zip(['the red car', 'a small dog'], boxes)]
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(10):
        losses = model.loss(images, train)
        opt.zero_grad()
        (losses['loss_seq'] + losses['loss_seq_init']).backward()
        opt.step()
    assert set(losses) == {'loss_seq', 'loss_seq_init', 'box_l1', 'box_giou'}
    model.eval()
    pred = torch.cat([s.pred_bboxes for s in model.predict(images, [DataSample(text=s.text) for s in train])])
    assert (pred - boxes).abs().max() < 0.5     # one bin is 32 / 640 px of (cx, cy, w, h)


def test_bad_input_is_named(model, tmp_path):
    with pytest.raises(DataError, match='no images'):
        model.predict(None, [DataSample(text='a dog')])
    with pytest.raises(DataError, match='sample 1 of the batch has no gt_bboxes'):
        model.loss(torch.randn(2, 3, 32, 32), [DataSample(text='a', gt_bboxes=[[0, 0, 1, 1]]), DataSample(text='b')])
    short = tiny_grounding(tmp_path, tokens=TASK_VOCAB[:-642])     # builds: the vocabulary is read on first use
    with pytest.raises(ConfigError, match=r'lacks 642 of the tokens.*\[unused339\]'):
        short.predict(torch.randn(1, 3, 32, 32), [DataSample(text='a dog')])


def test_mmpretrain_checkpoints_load(model, tmp_path):
    """MMPretrain's BlipGrounding checkpoints: fovea's names (box-token buffers included) plus BERT's saved
    position_ids buffers."""
    sd = dict(model.state_dict())
    for bert in ('text_encoder.', 'multimodal_encoder.', 'grounding_head.decoder.bert.'):
        sd[bert + 'embeddings.position_ids'] = torch.arange(64)[None]
    fresh = tiny_grounding(tmp_path)
    report = load_weights(fresh, sd, require_all=True)
    assert not report.missing and all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())

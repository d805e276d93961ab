"""BlipCaption and BlipRetrieval: losses, predictions, the per-step side effects (momentum encoders,
queues, temperature) after the optimizer step, weights without momentum copies, and bad input."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.registry import MODELS
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError
from tests.multimodal import blip_testutil
from tests.multimodal.blip_testutil import salesforce_names, write_vocab

TEXTS = ['a cat sitting on the red car', 'two dogs playing', 'a bird in the sky', 'a red truck on the road']


def caption_cfg(vocab, **kw):            # BLIP's shapes at 128 wide: these tests check behaviour, not parity
    return blip_testutil.caption_cfg(vocab, hidden=128, heads=4, **kw)


def retrieval_cfg(vocab, **kw):
    return blip_testutil.retrieval_cfg(vocab, hidden=128, heads=4, **kw)


@pytest.fixture(scope='module')
def vocab(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp('vocab')).parent


def test_caption_trains_on_the_caption_only_and_predicts(vocab):
    torch.manual_seed(0)
    model = MODELS.build(caption_cfg(vocab))
    images = torch.randn(2, 3, 32, 32)
    samples = [DataSample(gt_caption=TEXTS[0]), DataSample(gt_caption=TEXTS[1])]
    loss = model.loss(images, samples)['seq_gen_lm_loss']
    loss.backward()
    assert loss.item() > 0 and model.visual_encoder.patch_embed.projection.weight.grad.abs().sum() > 0
    assert model.prompt_length == 4                  # [DEC] a picture of: no loss on the prompt
    model.eval()
    out = model.predict(images, [DataSample(), DataSample()], num_beams=2, max_length=8)
    assert all(isinstance(s.pred_caption, str) and not s.pred_caption.startswith('a picture of') for s in out)
    model.num_captions = 2
    assert len(model.predict(images, use_nucleus_sampling=True, max_length=6)[0].pred_caption) == 2


def test_retrieval_step_side_effects_follow_the_optimizer_step(vocab):
    torch.manual_seed(0)
    model = MODELS.build(retrieval_cfg(vocab, queue_size=8))
    model.init_weights()
    assert torch.equal(model.text_backbone_m.embeddings.word_embeddings.weight,
                       model.text_backbone.embeddings.word_embeddings.weight)
    images = torch.randn(4, 3, 32, 32)
    samples = [DataSample(text=t, image_id=i) for t, i in zip(TEXTS, (1, 2, 2, 3))]
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    losses = model.loss(images, samples)
    assert set(losses) == {'itc_loss', 'itm_loss'} and len(samples) == 4      # the caller's list is untouched
    assert int(model.head.queue_ptr) == 0                                      # nothing queued inside the forward
    sum(losses.values()).backward()
    assert model.vision_backbone_m.ln1.weight.grad is None
    opt.step()
    before = model.vision_neck_m.weight.clone()
    model.after_optimizer_step(1)
    assert int(model.head.queue_ptr) == 4 and model.head.idx_queue[0, :4].tolist() == [1, 2, 2, 3]
    expected = 0.995 * before + 0.005 * model.vision_neck.weight
    torch.testing.assert_close(model.vision_neck_m.weight, expected)
    assert 0.001 <= float(model.temp.detach()) <= 0.5 and model.head.temp is model.temp
    with pytest.raises(DataError, match='image_id'):
        model.loss(images, [DataSample(text=t) for t in TEXTS])


def test_retrieval_predicts_and_refuses_generation(vocab):
    torch.manual_seed(0)
    model = MODELS.build(retrieval_cfg(vocab)).eval()
    images = torch.randn(3, 3, 32, 32)
    samples = [DataSample(text=[TEXTS[0], TEXTS[1]]), DataSample(text=TEXTS[2]), DataSample(text=TEXTS[3])]
    i2t, t2i = model.predict(images, samples)
    assert len(i2t) == 3 and i2t[0].pred_score.shape == (4,) and len(t2i) == 4 and t2i[0].pred_score.shape == (3,)
    feats = model.extract_feat(images, samples)
    itc = feats['image_feat'] @ feats['text_feat'].t()
    assert (i2t[0].pred_score > -100).all()       # topk=4 re-scores every text by ITM
    assert not torch.allclose(i2t[1].pred_score, itc[1])
    model.fast_match = True
    fast, _ = model.predict(images, samples)
    torch.testing.assert_close(fast[1].pred_score, itc[1])
    with pytest.raises(ConfigError, match='no text decoder'):
        model.generate(images)


def test_weights_without_momentum_copies_load_for_inference(vocab):
    torch.manual_seed(0)
    trained = MODELS.build(retrieval_cfg(vocab))
    sd = {k: v for k, v in trained.state_dict().items() if '_m.' not in k and 'queue' not in k}
    fresh = MODELS.build(retrieval_cfg(vocab))
    load_weights(fresh, sd, require_all=True)
    assert torch.equal(fresh.text_backbone_m.encoder.layer[1].output.dense.weight,
                       trained.text_backbone.encoder.layer[1].output.dense.weight)


def test_bad_input(vocab, tmp_path):
    model = MODELS.build(caption_cfg(vocab))
    with pytest.raises(DataError, match="no 'gt_caption'"):
        model.loss(torch.randn(1, 3, 32, 32), [DataSample(gt_caption=None)])
    small = caption_cfg(vocab)
    small['decoder_head']['decoder']['med_config']['vocab_size'] = 50
    with pytest.raises(ConfigError, match='vocab_size must be at least'):
        MODELS.build(small).tokenizer
    missing = MODELS.build(caption_cfg(tmp_path / 'nowhere'))           # builds without a vocabulary ...
    with pytest.raises(ConfigError, match='vocab'):
        missing.predict(torch.randn(1, 3, 32, 32))                        # ... and says so when it needs one


@pytest.mark.parametrize('name, published', [('blip_caption', 223_971_644), ('blip_retrieval', 447_486_979)])
def test_shipped_model_bases_have_the_published_sizes(name, published):
    from pathlib import Path

    from fovea.config import Config
    cfg = Config.fromfile(str(Path(__file__).parents[2] / 'fovea' / 'configs' / '_base_' / 'models' / f'{name}.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == published      # MMPretrain's metafile, exactly


def test_salesforce_and_mmpretrain_layouts_are_detected(vocab):
    torch.manual_seed(0)
    src = MODELS.build(caption_cfg(vocab))
    sd = src.state_dict()
    salesforce = salesforce_names(sd, 'visual_encoder.', {'text_decoder.': 'seq_gen_head.decoder.'})
    salesforce['text_decoder.bert.embeddings.position_ids'] = torch.arange(64)[None]
    dst = MODELS.build(caption_cfg(vocab))
    assert load_weights(dst, salesforce, require_all=True).source == 'blip'
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in sd.items())
    mmpretrain = {**sd, 'seq_gen_head.decoder.bert.embeddings.position_ids': torch.arange(64)[None]}
    report = load_weights(MODELS.build(caption_cfg(vocab)), mmpretrain, require_all=True)   # fovea's names
    assert report.source == 'blip' and not report.missing and not report.unexpected      # position_ids dropped

    ret = MODELS.build(retrieval_cfg(vocab)).state_dict()
    salesforce = salesforce_names(ret, 'vision_backbone.', {'text_encoder.': 'text_backbone.'})
    salesforce.update({'vision_proj.weight': ret['vision_neck.weight'], 'vision_proj.bias': ret['vision_neck.bias'],
                       'text_proj.weight': ret['text_neck.weight'], 'text_proj.bias': ret['text_neck.bias'],
                       'itm_head.weight': ret['multimodal_head.fc.weight'],
                       'itm_head.bias': ret['multimodal_head.fc.bias'], 'temp': torch.tensor(0.05),
                       'visual_encoder_m.cls_token': torch.zeros(1, 1, 64), 'image_queue': torch.zeros(32, 99),
                       'ptr_queue': torch.zeros(1, dtype=torch.long)})
    model = MODELS.build(retrieval_cfg(vocab))
    report = load_weights(model, salesforce, require_all=True)
    assert report.source == 'blip' and not report.unexpected                # momentum copies and queues dropped
    assert float(model.temp.detach()) == pytest.approx(0.05) and float(model.head.temp.detach()) == pytest.approx(0.05)
    assert torch.equal(model.vision_backbone_m.cls_token, ret['vision_backbone.cls_token'])


def test_retrieval_train_step_with_accumulation_pushes_every_micro_batch_once(vocab):
    from fovea.engine.optim_wrapper import OptimWrapper
    torch.manual_seed(0)
    model = MODELS.build(retrieval_cfg(vocab, queue_size=16)).train()
    ow = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5),
                      accumulative_counts=2)
    images = (torch.rand(4, 3, 32, 32) * 255).to(torch.uint8)

    def batch(offset):
        samples = [DataSample(text=t, image_id=offset + i) for i, t in enumerate(TEXTS)]
        return {'inputs': images, 'data_samples': samples}
    momentum0 = model.text_neck_m.weight.clone()
    log = model.train_step(batch(0), ow)                                  # micro-step: no update, nothing queued
    assert set(log) >= {'loss', 'itc_loss', 'itm_loss'} and int(model.head.queue_ptr) == 0
    assert torch.equal(model.text_neck_m.weight, momentum0)
    model.train_step(batch(10), ow)                                       # the update: both micro-batches enter
    assert int(model.head.queue_ptr) == 8 and model.head.idx_queue[0, :8].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
    assert not torch.equal(model.text_neck_m.weight, momentum0) and not model.head._pending

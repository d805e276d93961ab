"""BlipNLVR: a sentence against a pair of images through BLIP-NLVR's twin cross-attention."""
from __future__ import annotations

import pytest
import torch

from fovea.models.weights import load_weights
from fovea.structures import DataSample
from fovea.utils.errors import ConfigError, DataError
from tests.multimodal.blip_task_models import tiny_nlvr


@pytest.fixture(scope='module')
def vocab_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('blip_nlvr_vocab')


@pytest.fixture(scope='module')
def model(vocab_dir):
    torch.manual_seed(0)
    return tiny_nlvr(vocab_dir).eval()


def _texts(*texts):
    return [DataSample(text=t) for t in texts]


def test_each_image_of_the_pair_has_its_own_attention(model):
    keys = set(model.state_dict())
    assert {'multimodal_backbone.encoder.layer.0.crossattention.self0.query.weight',
            'multimodal_backbone.encoder.layer.0.crossattention.self1.query.weight',
            'multimodal_backbone.encoder.layer.6.crossattention.output.merge_layer.weight',
            'head.0.weight', 'head.2.weight'} <= keys
    assert 'multimodal_backbone.encoder.layer.5.crossattention.output.merge_layer.weight' not in keys
    torch.manual_seed(1)
    pair = torch.randn(2, 2, 3, 32, 32)
    texts = _texts('a dog and a cat', 'two red cars')
    scores = torch.stack([s.pred_score for s in model.predict(pair, texts)])
    assert scores.shape == (2, 2) and torch.allclose(scores.sum(1), torch.ones(2))
    as_list = torch.stack([s.pred_score for s in model.predict([pair[:, 0], pair[:, 1]], _texts('a dog and a cat', 'two red cars'))])
    torch.testing.assert_close(as_list, scores)
    swapped = torch.stack([s.pred_score for s in model.predict(pair.flip(1), _texts('a dog and a cat', 'two red cars'))])
    assert not torch.allclose(swapped, scores, atol=1e-6)      # self0 reads the first image, self1 the second
    # images of other sizes than their pair's are encoded apart (the ViT resizes its position embedding)
    mixed = model.predict([pair[:, 0], torch.nn.functional.interpolate(pair[:, 1], size=48)], _texts('a', 'b'))
    assert all(s.pred_score.shape == (2,) for s in mixed)
    # the sentence's first token, classified by the MLP head
    embeds = model.vision_backbone(torch.cat([pair[:, 0], pair[:, 1]]))[0]
    tok = model.tokenizer(['a dog and a cat', 'two red cars'])
    states = model.multimodal_backbone(tok.input_ids, attention_mask=tok.attention_mask,
                                       encoder_hidden_states=[embeds[:2], embeds[2:]]).last_hidden_state
    torch.testing.assert_close(model.head(states[:, 0]).softmax(1), scores)


def test_training_learns_the_labels(vocab_dir):
    torch.manual_seed(0)
    m = tiny_nlvr(vocab_dir, layers=2)
    pair = torch.randn(4, 2, 3, 32, 32)
    train = [DataSample(text=t, gt_label=torch.tensor([y])) for t, y in
             zip(['a dog', 'a dog', 'two cars', 'two cars'], [1, 0, 0, 1])]
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    for _ in range(15):
        loss = m.loss(pair, train)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    pred = [int(s.pred_label) for s in m.predict(pair, _texts('a dog', 'a dog', 'two cars', 'two cars'))]
    assert pred == [1, 0, 0, 1]


def test_bad_input_is_named(model, vocab_dir):
    with pytest.raises(DataError, match='pair of images'):
        model.predict(torch.randn(2, 3, 32, 32), _texts('a', 'b'))
    with pytest.raises(DataError, match='no images'):
        model.predict(None, _texts('a'))
    with pytest.raises(DataError, match='no gt_label'):
        model.loss(torch.randn(1, 2, 3, 32, 32), _texts('a'))
    with pytest.raises(ConfigError, match='nlvr=True'):
        tiny_nlvr(vocab_dir, layers=1, nlvr=False)
    from fovea.models.multimodal.blip.blip_nlvr import BertModel
    with pytest.raises(ConfigError, match='add_pooling_layer=False'):
        BertModel(dict(num_hidden_layers=1, hidden_size=64, num_attention_heads=2, add_cross_attention=True, nlvr=True))


def test_preprocessor_normalises_image_pairs(vocab_dir):
    from fovea.models.multimodal.clip.clip import MultiModalDataPreprocessor
    pre = MultiModalDataPreprocessor(mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 5.0])
    pair = torch.randint(0, 255, (2, 2, 3, 8, 8), dtype=torch.uint8)
    out = pre({'inputs': pair, 'data_samples': _texts('a', 'b')})['inputs']
    single = pre({'inputs': pair[:, 1], 'data_samples': _texts('a', 'b')})['inputs']
    assert out.shape == (2, 2, 3, 8, 8)
    torch.testing.assert_close(out[:, 1], single)
    as_list = pre({'inputs': [pair[:, 0], pair[:, 1]], 'data_samples': _texts('a', 'b')})['inputs']
    torch.testing.assert_close(as_list[1], single)


def test_mmpretrain_checkpoints_load(model, vocab_dir):
    """MMPretrain's BlipNLVR checkpoints: fovea's names plus BERT's saved position_ids buffer."""
    sd = {**model.state_dict(), 'multimodal_backbone.embeddings.position_ids': torch.arange(64)[None]}
    fresh = tiny_nlvr(vocab_dir)
    report = load_weights(fresh, sd, require_all=True)
    assert not report.missing and all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())

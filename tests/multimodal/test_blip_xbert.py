"""BLIP's text transformer (XBertEncoder / XBertLMHeadDecoder): state-dict names, the key/value cache,
modes, the loss, bad settings, and transformers' BLIP text models with the same weights."""
from __future__ import annotations

import pytest
import torch

from fovea.models.multimodal.blip.xbert import MedConfig, XBertEncoder, XBertLMHeadDecoder
from fovea.registry import MODELS
from fovea.utils.errors import ConfigError
from tests.multimodal.blip_testutil import VOCAB, med_config

V = len(VOCAB) + 2


def _inputs(seed=0, length=9):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V - 2, (3, length), generator=g)
    ids[:, 0] = V - 2
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    return ids, mask, torch.randn(3, 17, 64, generator=g)


@pytest.fixture(scope='module')
def decoder():
    torch.manual_seed(0)
    return MODELS.build(dict(type='XBertLMHeadDecoder', med_config=med_config())).eval()


def test_state_dict_names_are_mmpretrains(decoder):
    keys = set(decoder.state_dict())
    assert {'bert.embeddings.word_embeddings.weight', 'bert.encoder.layer.1.crossattention.self.key.weight',
            'bert.encoder.layer.0.attention.output.LayerNorm.bias', 'bert.encoder.layer.0.output.dense.weight',
            'cls.predictions.bias', 'cls.predictions.decoder.weight',
            'cls.predictions.transform.LayerNorm.weight'} <= keys
    assert decoder.cls.predictions.decoder.weight is decoder.bert.embeddings.word_embeddings.weight   # tied, as BLIP
    enc = XBertEncoder(med_config(layers=1))
    assert enc.encoder.layer[0].crossattention.self.key.in_features == 64    # encoder_width


def test_cache_gives_the_full_forward_logits(decoder):
    ids, _, img = _inputs()
    with torch.no_grad():
        full = decoder(ids, encoder_hidden_states=img).logits
        out = decoder(ids[:, :5], encoder_hidden_states=img, use_cache=True)
        cache = out.past_key_values
        steps = [out.logits]
        for t in range(5, ids.shape[1]):
            steps.append(decoder(ids[:, t:t + 1], encoder_hidden_states=img, past_key_values=cache,
                                 use_cache=True).logits)
    assert len(cache) == ids.shape[1]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)


def test_causal_and_text_mode(decoder):
    ids, _, img = _inputs()
    with torch.no_grad():
        a = decoder(ids, encoder_hidden_states=img).logits
        changed = ids.clone()
        changed[:, 6:] = 7
        b = decoder(changed, encoder_hidden_states=img).logits
        assert torch.allclose(a[:, :6], b[:, :6], atol=1e-5) and not torch.allclose(a[:, 6:], b[:, 6:])
        enc = XBertEncoder(med_config()).eval()
        t1 = enc(ids, mode='text').last_hidden_state
        t2 = enc(ids, encoder_hidden_states=img * 3, mode='text').last_hidden_state
        m = enc(ids, encoder_hidden_states=img).last_hidden_state
    assert torch.equal(t1, t2) and not torch.allclose(t1, m)


def test_loss_ignores_padding_and_sums_per_sequence(decoder):
    ids, mask, img = _inputs()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = decoder(ids, attention_mask=mask, encoder_hidden_states=img, labels=labels, reduction='none')
        mean = decoder(ids, attention_mask=mask, encoder_hidden_states=img, labels=labels).loss
        logits = decoder(ids, attention_mask=mask, encoder_hidden_states=img, return_logits=True)
    assert out.loss.shape == (3,) and out['logits'].shape == (3, 9, V)
    assert logits.shape == (3, 8, V)
    torch.testing.assert_close(mean, out.loss.sum() / (labels[:, 1:] != -100).sum(), rtol=1e-5, atol=1e-6)


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown BERT setting 'num_hidden_layer'.*num_hidden_layers"):
        MedConfig.build(dict(num_hidden_layer=2))
    with pytest.raises(ConfigError, match='not divisible'):
        MedConfig.build(dict(hidden_size=100, num_attention_heads=12))
    with pytest.raises(ConfigError, match='is not a file'):
        MedConfig.build(str(tmp_path / 'med_config.json'))
    (tmp_path / 'med_config.json').write_text('{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1}')
    assert MedConfig.build(str(tmp_path / 'med_config.json')).hidden_size == 64
    enc = XBertEncoder(med_config(layers=1, cross=False))
    with pytest.raises(ConfigError, match='add_cross_attention'):
        enc(torch.ones(1, 3, dtype=torch.long), encoder_hidden_states=torch.randn(1, 2, 64))
    with pytest.raises(ConfigError, match='encoder_hidden_states'):
        XBertEncoder(med_config(layers=1))(torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(ConfigError, match='output_attentions are not supported'):
        enc(torch.ones(1, 3, dtype=torch.long), mode='text', output_attentions=True)
    with pytest.raises(TypeError, match='encoder_hidden_state'):                  # a typo is not swallowed
        enc(torch.ones(1, 3, dtype=torch.long), encoder_hidden_state=torch.randn(1, 2, 64))


def test_nlvr_twin_cross_attention():
    enc = XBertEncoder(med_config(layers=1, nlvr=True)).eval()
    ca = enc.encoder.layer[0].crossattention
    assert hasattr(ca, 'self0') and hasattr(ca.output, 'dense1') and not hasattr(ca.output, 'merge_layer')
    ids, _, img = _inputs()
    with torch.no_grad():
        out = enc(ids, encoder_hidden_states=[img, img.flip(0)]).last_hidden_state
    assert out.shape == (3, 9, 768)


def _hf_text_config(transformers, **kw):
    return transformers.BlipTextConfig(vocab_size=V, hidden_size=768, encoder_hidden_size=64, intermediate_size=256,
                                       num_hidden_layers=2, num_attention_heads=12, max_position_embeddings=64,
                                       layer_norm_eps=1e-12, bos_token_id=V - 2, pad_token_id=0, sep_token_id=3, **kw)


@pytest.mark.reference
def test_equals_transformers_blip_text_models(decoder):
    transformers = pytest.importorskip('transformers')
    from transformers.models.blip.modeling_blip_text import BlipTextLMHeadModel, BlipTextModel
    torch.manual_seed(1)
    cfg = _hf_text_config(transformers)
    ref_dec = BlipTextLMHeadModel(cfg).eval()
    ref_enc = BlipTextModel(cfg, add_pooling_layer=False).eval()
    ours_dec = XBertLMHeadDecoder(med_config(), label_smoothing=0.0).eval()
    ours_enc = XBertEncoder(med_config()).eval()
    ours_dec.load_state_dict(ref_dec.state_dict())
    ours_enc.load_state_dict(ref_enc.state_dict())
    ids, mask, img = _inputs(3)
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        a = ref_dec(input_ids=ids, attention_mask=mask, encoder_hidden_states=img, labels=labels, reduction='none')
        b = ours_dec(ids, attention_mask=mask, encoder_hidden_states=img, labels=labels, reduction='none')
        assert (a.logits - b.logits).abs().max() < 1e-4 and (a.loss - b.loss).abs().max() < 1e-4
        a = ref_enc(input_ids=ids, attention_mask=mask, encoder_hidden_states=img).last_hidden_state
        b = ours_enc(ids, attention_mask=mask, encoder_hidden_states=img).last_hidden_state
        assert (a - b).abs().max() < 1e-4

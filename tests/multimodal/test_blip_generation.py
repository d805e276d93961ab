"""BLIP text generation: the cached search equals a search that recomputes every step, image keys and
values are computed once per image (not per beam, never twice), min length, nucleus sampling, bad input."""
from __future__ import annotations

import pytest
import torch

from fovea.models.multimodal.blip.generation import generate
from fovea.models.multimodal.blip.xbert import XBertLMHeadDecoder
from fovea.utils.errors import ConfigError
from tests.multimodal.blip_testutil import VOCAB, med_config

V = len(VOCAB) + 2
BOS, EOS = V - 2, 3


@pytest.fixture(scope='module')
def decoder():
    torch.manual_seed(0)
    dec = XBertLMHeadDecoder(med_config(intermediate=128)).eval()
    with torch.no_grad():
        for p in dec.parameters():
            p.mul_(3.0)
        dec.cls.predictions.bias[EOS] += 2.0
    return dec


def _images(n=3, seed=0):
    return torch.randn(n, 5, 64, generator=torch.Generator().manual_seed(seed))


def _greedy_without_cache(dec, prompt, images, max_length):
    seqs, done = prompt, torch.zeros(len(prompt), dtype=torch.bool)
    while seqs.shape[1] < max_length and not done.all():
        nxt = dec(seqs, encoder_hidden_states=images).logits[:, -1].argmax(-1)
        nxt = torch.where(done, torch.zeros_like(nxt), nxt)
        seqs, done = torch.cat([seqs, nxt[:, None]], 1), done | (nxt == EOS)
    return seqs


def test_cached_greedy_equals_recomputing(decoder):
    prompt = torch.tensor([[BOS, 10, 11]] * 3)
    images = _images()
    ours = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, max_length=12)
    assert torch.equal(ours, _greedy_without_cache(decoder, prompt, images, 12))
    assert len({tuple(r) for r in ours.tolist()}) > 1


def test_image_keys_values_are_computed_once_per_image(decoder):
    rows = []
    hook = decoder.bert.encoder.layer[0].crossattention.self.key.register_forward_hook(
        lambda m, i, o: rows.append(i[0].shape[0]))
    try:
        out = generate(decoder, torch.tensor([[BOS]] * 3), _images(), eos_token_id=EOS, pad_token_id=0,
                       num_beams=4, max_length=10, num_return_sequences=2)
    finally:
        hook.remove()
    assert rows == [3]                 # one projection of the 3 images' tokens for the whole search
    assert out.shape[0] == 6 and (out[:, 0] == BOS).all()


def test_beam_search_beats_or_equals_greedy_likelihood(decoder):
    prompt, images = torch.tensor([[BOS]] * 3), _images(seed=1)

    def logprob(seqs):
        logp = decoder(seqs, encoder_hidden_states=images).logits.log_softmax(-1)[:, :-1]
        tok = logp.gather(2, seqs[:, 1:, None]).squeeze(2)
        ended = (seqs[:, 1:] == EOS).long().cumsum(1)
        keep = (ended == 0) | ((ended == 1) & (seqs[:, 1:] == EOS))
        return (tok * keep).sum(1)
    greedy = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, max_length=6)
    beam = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, max_length=6, num_beams=5,
                    length_penalty=0.0)
    assert (logprob(beam) >= logprob(greedy) - 1e-4).all()


def test_min_length_and_sampling(decoder):
    prompt, images = torch.tensor([[BOS]] * 3), _images()
    out = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, max_length=12, min_length=6,
                   num_beams=3)
    first_eos = [r.index(EOS) if EOS in r else len(r) for r in out.tolist()]
    assert min(first_eos) >= 6
    g = lambda: torch.Generator().manual_seed(3)   # noqa: E731
    a = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, do_sample=True, top_p=0.9, max_length=8,
                 generator=g())
    b = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, do_sample=True, top_p=0.9, max_length=8,
                 generator=g())
    assert torch.equal(a, b)
    tiny_p = generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, do_sample=True, top_p=1e-6,
                      max_length=8)
    assert torch.equal(tiny_p, generate(decoder, prompt, images, eos_token_id=EOS, pad_token_id=0, max_length=8))


def test_bad_requests_are_config_errors(decoder):
    with pytest.raises(ConfigError, match='one row per prompt'):
        generate(decoder, torch.tensor([[BOS]] * 2), _images(6), eos_token_id=EOS, pad_token_id=0, num_beams=3)
    with pytest.raises(ConfigError, match='beam sampling'):
        generate(decoder, torch.tensor([[BOS]]), _images(1), eos_token_id=EOS, pad_token_id=0, num_beams=2,
                 do_sample=True)
    with pytest.raises(ConfigError, match='num_return_sequences'):
        generate(decoder, torch.tensor([[BOS]]), _images(1), eos_token_id=EOS, pad_token_id=0, num_beams=2,
                 num_return_sequences=3)

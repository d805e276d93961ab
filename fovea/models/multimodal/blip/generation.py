"""Text generation for BLIP's decoders: greedy search, beam search and nucleus sampling on the
decoder's key/value cache.

The rules are those of Hugging Face ``generate`` (so captions equal ``transformers``' token for token):
``max_length`` counts the prompt, ``min_length`` forbids the end token before that length, the repetition
penalty divides positive and multiplies negative scores of every token already in the sequence, beam
search keeps ``2 * num_beams`` candidates a step, finishes a hypothesis when one of the best ``num_beams``
candidates ends, scores it by its summed log-probability over ``generated_length ** length_penalty``, and
stops when no running beam can beat the finished ones; sequences that end early are padded.

The prompt is run once per image (not once per beam) and its keys and values, the image's included,
are then repeated for the beams: the image embeddings are never repeated twice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fovea.utils.errors import ConfigError

__all__ = ['generate']

NEG = -1.0e9


def _repetition_penalty(seqs: torch.Tensor, scores: torch.Tensor, penalty: float) -> torch.Tensor:
    if penalty == 1.0:
        return scores
    picked = scores.gather(1, seqs)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    return scores.scatter(1, seqs, picked)


def _process(seqs, scores, cur_len, eos, min_length, repetition_penalty):
    scores = _repetition_penalty(seqs, scores, repetition_penalty)
    if cur_len < min_length:
        scores = scores.clone()
        scores[:, eos] = -float('inf')
    return scores


def _warp(scores: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, top-k and nucleus (top-p) filtering of logits before sampling (at least one token kept)."""
    if temperature != 1.0:
        scores = scores / temperature
    if top_k and top_k > 0:
        kth = torch.topk(scores, min(top_k, scores.shape[-1])).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -float('inf'))
    if top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[..., -1:] = False
        scores = scores.masked_fill(remove.scatter(1, order, remove), -float('inf'))
    return scores


def _step(decoder: nn.Module, ids, cache, states, states_mask, attention_mask):
    out = decoder(ids, attention_mask=attention_mask, encoder_hidden_states=states,
                  encoder_attention_mask=states_mask, past_key_values=cache, use_cache=True)
    return out.logits[:, -1].float(), out.past_key_values


@torch.no_grad()
def generate(decoder: nn.Module, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor,
             encoder_attention_mask: torch.Tensor | None = None, *, eos_token_id: int, pad_token_id: int,
             num_beams: int = 1, do_sample: bool = False, max_length: int = 20, max_new_tokens: int | None = None,
             min_length: int = 0, top_p: float = 1.0, top_k: int = 0, temperature: float = 1.0,
             repetition_penalty: float = 1.0, length_penalty: float = 1.0, early_stopping: bool = False,
             num_return_sequences: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue the prompts ``input_ids`` (B, L0) with ``decoder`` (an ``XBertLMHeadDecoder``), each conditioned
    on its row of ``encoder_hidden_states`` (B, N, C).

    Greedy search by default; ``num_beams > 1``: beam search; ``do_sample=True``: sampling with
    ``temperature``, ``top_k`` and nucleus ``top_p`` (one sample per row; ``generator`` makes it
    reproducible). ``max_length`` (or ``L0 + max_new_tokens``) bounds the whole sequence, ``min_length`` the
    length before ``eos_token_id`` may end it. Returns (B * num_return_sequences, L) ids, the prompt first,
    ended sequences padded with ``pad_token_id``; beam search returns the best ``num_return_sequences``
    hypotheses of each row, best first.
    """
    if input_ids.dim() != 2 or input_ids.shape[1] == 0:
        raise ConfigError(f'generate: input_ids must be (batch, prompt_length) with at least the bos token, got '
                          f'shape {tuple(input_ids.shape)}.')
    if encoder_hidden_states.shape[0] != input_ids.shape[0]:
        raise ConfigError(f'generate: {encoder_hidden_states.shape[0]} rows of encoder_hidden_states for '
                          f'{input_ids.shape[0]} prompts; give one row per prompt (the beams are expanded here).')
    if num_beams < 1 or num_return_sequences < 1:
        raise ConfigError(f'generate: num_beams ({num_beams}) and num_return_sequences ({num_return_sequences}) must '
                          f'be >= 1.')
    if do_sample and num_beams > 1:
        raise ConfigError('generate: beam sampling is not supported; use do_sample=True with num_beams=1, or beam '
                          'search with do_sample=False.')
    if num_return_sequences > num_beams and not do_sample:
        raise ConfigError(f'generate: num_return_sequences={num_return_sequences} needs at least as many beams '
                          f'(num_beams={num_beams}).')
    if not 0 < top_p <= 1:
        raise ConfigError(f'generate: top_p must be in (0, 1], got {top_p}.')
    prompt_len = input_ids.shape[1]
    if max_new_tokens is not None:
        max_length = prompt_len + max_new_tokens
    if max_length <= prompt_len:
        return input_ids.repeat_interleave(num_return_sequences, 0)
    if num_beams > 1:
        return _beam_search(decoder, input_ids, encoder_hidden_states, encoder_attention_mask, eos_token_id,
                            pad_token_id, num_beams, max_length, min_length, repetition_penalty, length_penalty,
                            early_stopping, num_return_sequences)
    if num_return_sequences > 1:
        input_ids = input_ids.repeat_interleave(num_return_sequences, 0)
        encoder_hidden_states = encoder_hidden_states.repeat_interleave(num_return_sequences, 0)
        if encoder_attention_mask is not None:
            encoder_attention_mask = encoder_attention_mask.repeat_interleave(num_return_sequences, 0)
    return _greedy_or_sample(decoder, input_ids, encoder_hidden_states, encoder_attention_mask, eos_token_id,
                             pad_token_id, do_sample, max_length, min_length, top_p, top_k, temperature,
                             repetition_penalty, generator)


def _greedy_or_sample(decoder, seqs, states, states_mask, eos, pad, do_sample, max_length, min_length, top_p, top_k,
                      temperature, repetition_penalty, generator):
    logits, cache = _step(decoder, seqs, None, states, states_mask, None)
    done = torch.zeros(seqs.shape[0], dtype=torch.bool, device=seqs.device)
    while True:
        scores = _process(seqs, logits, seqs.shape[1], eos, min_length, repetition_penalty)
        if do_sample:
            probs = _warp(scores, temperature, top_k, top_p).softmax(dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        else:
            nxt = scores.argmax(dim=-1)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        done = done | (nxt == eos)
        if bool(done.all()) or seqs.shape[1] >= max_length:
            return seqs
        logits, cache = _step(decoder, seqs[:, -1:], cache, states, states_mask, None)


def _gather(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick along dim 1 of (B, K, ...) with (B, K') indices."""
    while index.dim() < t.dim():
        index = index.unsqueeze(-1)
    return t.gather(1, index.expand(*index.shape[:2], *t.shape[2:]))


def _beam_search(decoder, input_ids, states, states_mask, eos, pad, K, max_length, min_length, repetition_penalty,
                 length_penalty, early_stopping, num_return_sequences):
    B, L0 = input_ids.shape
    device = input_ids.device
    # the prompt once per image; its keys/values (image tokens' included) then repeated for the beams
    logits, cache = _step(decoder, input_ids, None, states, states_mask, None)
    expand = torch.arange(B, device=device).repeat_interleave(K)
    cache.reorder(expand)
    logits = logits.index_select(0, expand)
    if states_mask is not None:
        states_mask = states_mask.index_select(0, expand)

    running = torch.full((B, K, max_length), pad, dtype=torch.long, device=device)
    running[:, :, :L0] = input_ids[:, None]
    running_scores = torch.zeros(B, K, device=device)
    running_scores[:, 1:] = NEG
    finished = running.clone()
    finished_scores = torch.full((B, K), NEG, device=device)
    finished_len = torch.zeros(B, K, dtype=torch.long, device=device)
    is_finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    improvable = torch.ones(B, 1, dtype=torch.bool, device=device)
    top_mask = torch.arange(2 * K, device=device) < K
    batch_offset = torch.arange(B, device=device)[:, None] * K
    cur_len = L0
    while True:
        logp = F.log_softmax(logits, dim=-1)
        logp = _process(running[:, :, :cur_len].reshape(B * K, cur_len), logp, cur_len, eos, min_length,
                        repetition_penalty)
        V = logp.shape[-1]
        logp = (logp.view(B, K, V) + running_scores[:, :, None]).view(B, K * V)
        top_lp, top_idx = torch.topk(logp, 2 * K)
        src_beam, token = top_idx // V, top_idx % V
        cand = _gather(running, src_beam)
        cand[:, :, cur_len] = token
        hits = (token == eos) | (cur_len + 1 >= max_length)

        # the best K candidates that did not end keep running
        run_lp = top_lp + hits.float() * NEG
        keep = torch.topk(run_lp, K).indices
        running = _gather(cand, keep)
        running_scores = run_lp.gather(1, keep)
        cache_index = (src_beam.gather(1, keep) + batch_offset).view(-1)

        # candidates among the best K that ended join the finished hypotheses if they score better
        just_finished = hits & top_mask[None]
        score = top_lp / float(cur_len + 1 - L0) ** length_penalty
        full = is_finished.all(dim=1, keepdim=True) & bool(early_stopping)
        score = score + full.float() * NEG + (~improvable).float() * NEG + (~just_finished).float() * NEG
        merged_scores = torch.cat([finished_scores, score], dim=1)
        pick = torch.topk(merged_scores, K).indices
        finished = _gather(torch.cat([finished, cand], dim=1), pick)
        finished_scores = merged_scores.gather(1, pick)
        new_len = torch.full_like(finished_len[:, :1], cur_len + 1 - L0).expand(B, 2 * K)
        finished_len = torch.cat([finished_len, new_len], dim=1).gather(1, pick)
        is_finished = torch.cat([is_finished, just_finished], dim=1).gather(1, pick)

        cur_len += 1
        best_running = running_scores[:, :1] / float(cur_len - L0) ** length_penalty
        worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True).values,
                                     torch.full_like(finished_scores, NEG))
        improvable = improvable & (best_running > worst_finished).any(dim=-1, keepdim=True)
        if not (bool(improvable.any()) and not (bool(is_finished.all()) and early_stopping is True)
                and not bool(hits.all())):
            break
        cache.reorder(cache_index, cross=False)   # the beams of one image share its keys/values
        flat = running.view(B * K, max_length)
        logits, cache = _step(decoder, flat[:, cur_len - 1:cur_len], cache, states, states_mask, None)

    out = finished[:, :num_return_sequences]
    length = L0 + int(finished_len[:, :num_return_sequences].max())
    return out.reshape(B * num_return_sequences, max_length)[:, :length]

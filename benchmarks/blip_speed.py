"""BLIP speed: caption generation (beam search) and a retrieval training step, fovea against transformers'
BLIP at matched settings (same architecture and weights, batch, threads, fp32), random weights and images.

* ``caption``: images/s of captioning a batch with beam search (``--beams``, 3 by default; ``--max-length``
  20, ``--min-length`` 5: MMPretrain's BLIP settings). fovea: ``BlipCaption.generate`` (image tokens computed
  once and repeated per beam, a KV cache; tokens decoded to strings). transformers:
  ``BlipForConditionalGeneration.generate`` with the prompt 'a picture of', then ``batch_decode``. The
  weights are transformers' model converted into fovea, so both produce the same captions.
* ``retrieval``: seconds per training step of BLIP retrieval (ITC with momentum encoders and feature queues,
  momentum distillation, ITM on one hard negative text per image and one hard negative image per text),
  tokenization, forward, backward, AdamW step, momentum update and queue push. fovea: ``BlipRetrieval``
  stepped through ``model.train_step``. transformers ships the modules but no training step
  (``BlipForImageTextRetrieval`` only scores), so its side is Salesforce BLIP's training step (the algorithm
  fovea implements) written on transformers' modules (``vision_model``, ``text_encoder``, ``vision_proj``,
  ``text_proj``, ``itm_head``; momentum copies of the first four), with transformers' ``BertTokenizerFast``.

Rows are timed in interleaved rounds (drifting load affects both alike); the median is reported with the
ratio ``transformers / fovea`` (above 1: fovea is faster; goal >= 1.0).

    python benchmarks/blip_speed.py --threads 1                       # BLIP-base: ViT-B/16 384 px, BERT-base
    python benchmarks/blip_speed.py --tiny --rounds 1 --iters 1 --warmup 0   # a smoke run

transformers is a dev/benchmark dependency (``pip install "fovea[dev]"``); fovea never imports it.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

MEAN = torch.tensor([122.770938, 116.7460125, 104.09373615]).view(1, 3, 1, 1)   # BLIP's (OpenAI CLIP's)
STD = torch.tensor([68.5005327, 66.6321579, 70.32316305]).view(1, 3, 1, 1)
WORDS = ('a picture of the cat dog sitting on red blue car truck bird ship plane is in an and with two small big '
         'grass road water sky white black').split()
#: (vision width, depth, heads, image size, patch), (text width, layers, heads, intermediate), ITC width
SIZES = {'base': ((768, 12, 12, 384, 16), (768, 12, 12, 3072), 256),
         'tiny': ((64, 2, 4, 32, 8), (64, 2, 2, 128), 32)}
VOCAB_SIZE = 30522  # bert-base-uncased's; BLIP adds [DEC] and [ENC]


def write_vocab(folder: Path) -> Path:
    """A BERT-style vocab.txt of bert-base-uncased's size: the special tokens, the words the captions use,
    letters, and [unused] fillers (so every id the models can emit decodes)."""
    specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    tokens = specials + sorted(set(WORDS) | set(letters)) + ['##' + c for c in letters]
    tokens += [f'[unused{i}]' for i in range(VOCAB_SIZE - len(tokens))]
    path = folder / 'vocab.txt'
    path.write_text('\n'.join(tokens) + '\n', encoding='utf-8')
    return path


def captions(n: int, step: int) -> list[str]:
    return [' '.join(WORDS[(i * 3 + step + k) % len(WORDS)] for k in range(8)) for i in range(n)]


def hf_config(size: str, enc: int, dec: int, **kw):
    import transformers
    (vw, vd, vh, img, patch), (tw, tl, th, ti), _ = SIZES[size]
    vision = dict(hidden_size=vw, intermediate_size=vw * 4, num_hidden_layers=vd, num_attention_heads=vh,
                  image_size=img, patch_size=patch, layer_norm_eps=1e-6)
    text = dict(vocab_size=VOCAB_SIZE + 2, hidden_size=tw, encoder_hidden_size=vw, intermediate_size=ti,
                num_hidden_layers=tl, num_attention_heads=th, max_position_embeddings=512, layer_norm_eps=1e-12,
                bos_token_id=dec, pad_token_id=0, sep_token_id=3)
    return transformers.BlipConfig(vision_config=vision, text_config=text, **kw)


def med_config(size: str) -> dict:
    (vw, *_), (tw, tl, th, ti), _ = SIZES[size]
    return dict(architectures=['BertModel'], attention_probs_dropout_prob=0.1, hidden_act='gelu',
                hidden_dropout_prob=0.1, hidden_size=tw, initializer_range=0.02, intermediate_size=ti,
                layer_norm_eps=1e-12, max_position_embeddings=512, model_type='bert', num_attention_heads=th,
                num_hidden_layers=tl, pad_token_id=0, add_type_embeddings=False, vocab_size=VOCAB_SIZE + 2,
                encoder_width=vw, add_cross_attention=True)


def vit(size: str) -> dict:
    (vw, vd, vh, img, patch), _, _ = SIZES[size]
    return dict(type='VisionTransformer', arch=dict(embed_dims=vw, num_layers=vd, num_heads=vh,
                                                    feedforward_channels=vw * 4),
                img_size=img, patch_size=patch, out_type='raw', norm_cfg=dict(type='LN', eps=1e-6))


def time_rows(rows: dict, rounds: int, iters: int, warmup: int) -> dict[str, list[float]]:
    """Each row's step timed ``iters`` times per round, the rows interleaved round by round."""
    for fn in rows.values():
        for i in range(warmup):
            fn(i)
    times = {k: [] for k in rows}
    for r in range(rounds):
        for k, fn in rows.items():
            for i in range(iters):
                t = time.perf_counter()
                fn(r * iters + i)
                times[k].append(time.perf_counter() - t)
    return times


def report(title: str, times: dict, per_step: int, unit: str) -> None:
    ref, ours = statistics.median(times['transformers']), statistics.median(times['fovea'])
    print(f'\n{title}')
    print(f'| row | s/step (median) | {unit}/s | transformers / this |')
    print('|---|---|---|---|')
    for k, med in (('fovea', ours), ('transformers', ref)):
        print(f'| {k} | {med:.4f} | {per_step / med:.2f} | {ref / med:.2f}x |', flush=True)


def caption_rows(args, vocab_dir: Path) -> dict:
    import transformers

    from fovea.models.weights import load_weights
    from fovea.registry import MODELS
    cfg = dict(type='BlipCaption', vision_encoder=vit(args.size),
               tokenizer=dict(type='BlipTokenizer', name_or_path=str(vocab_dir)),
               decoder_head=dict(type='SeqGenerationHead', decoder=dict(type='XBertLMHeadDecoder',
                                                                         med_config=med_config(args.size))),
               prompt='a picture of ', max_txt_len=20)
    ours = MODELS.build(cfg).eval()
    tok = ours.tokenizer
    ref = transformers.BlipForConditionalGeneration(hf_config(args.size, tok.enc_token_id, tok.bos_token_id)).eval()
    load_weights(ours, ref.state_dict(), require_all=True)
    hf_tok = transformers.BertTokenizerFast(str(vocab_dir / 'vocab.txt'), do_lower_case=True)
    size = SIZES[args.size][0][3]
    g = torch.Generator().manual_seed(0)
    images = (torch.randint(0, 256, (args.caption_batch, 3, size, size), generator=g).float() - MEAN) / STD
    gen = dict(num_beams=args.beams, max_length=args.max_length, min_length=args.min_length)

    @torch.no_grad()
    def fovea_step(i):
        return ours.generate(images, **gen)

    @torch.no_grad()
    def hf_step(i):
        prompt = hf_tok(['a picture of'] * len(images), return_tensors='pt')
        ids = ref.generate(pixel_values=images, input_ids=prompt.input_ids, attention_mask=prompt.attention_mask,
                           do_sample=False, **gen)
        return hf_tok.batch_decode(ids, skip_special_tokens=True)

    first = fovea_step(0), hf_step(0)
    same = [a == b[len('a picture of'):].strip() for a, b in zip(*first)]
    print(f'captions equal in {sum(same)}/{len(same)} images (e.g. fovea {first[0][0]!r}, transformers '
          f'{first[1][0]!r})')
    return {'fovea': fovea_step, 'transformers': hf_step}


def hf_retrieval_step(ref, hf_tok, images, momentum: float, queue: int, alpha: float, max_len: int, enc_id: int):
    """Salesforce BLIP's retrieval training step on transformers' modules; returns the step function."""
    online = [ref.vision_model, ref.text_encoder, ref.vision_proj, ref.text_proj]
    moment = [copy.deepcopy(m).requires_grad_(False) for m in online]
    vision_m, text_m, vproj_m, tproj_m = moment
    dim = ref.vision_proj.out_features
    state = dict(image_queue=F.normalize(torch.randn(dim, queue), dim=0),
                 text_queue=F.normalize(torch.randn(dim, queue), dim=0),
                 idx_queue=torch.full((1, queue), -100), ptr=0)
    temp = torch.nn.Parameter(0.07 * torch.ones([]))
    opt = torch.optim.AdamW([p for p in ref.parameters() if p.requires_grad] + [temp], lr=2e-5, weight_decay=0.04)

    def step(i):
        texts = captions(len(images), i)
        idx = torch.arange(len(images)).view(-1, 1) + i * len(images)
        text = hf_tok(texts, padding='max_length', truncation=True, max_length=max_len, return_tensors='pt')
        image_embeds = ref.vision_model(pixel_values=images).last_hidden_state
        image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
        image_feat = F.normalize(ref.vision_proj(image_embeds[:, 0]), dim=-1)
        text_out = ref.text_encoder(input_ids=text.input_ids, attention_mask=text.attention_mask)
        text_feat = F.normalize(ref.text_proj(text_out.last_hidden_state[:, 0]), dim=-1)
        with torch.no_grad():
            temp.clamp_(0.001, 0.5)
            image_feat_m = F.normalize(vproj_m(vision_m(pixel_values=images).last_hidden_state[:, 0]), dim=-1)
            text_feat_m = F.normalize(tproj_m(text_m(input_ids=text.input_ids, attention_mask=text.attention_mask)
                                              .last_hidden_state[:, 0]), dim=-1)
            img_all = torch.cat([image_feat_m.t(), state['image_queue']], dim=1)
            txt_all = torch.cat([text_feat_m.t(), state['text_queue']], dim=1)
            idx_all = torch.cat([idx.t(), state['idx_queue']], dim=1)
            pos = torch.eq(idx, idx_all).float()
            targets = pos / pos.sum(1, keepdim=True)
            t_i2t = alpha * F.softmax(image_feat_m @ txt_all / temp, dim=1) + (1 - alpha) * targets
            t_t2i = alpha * F.softmax(text_feat_m @ img_all / temp, dim=1) + (1 - alpha) * targets
        loss_i2t = -(F.log_softmax(image_feat @ txt_all / temp, dim=1) * t_i2t).sum(1).mean()
        loss_t2i = -(F.log_softmax(text_feat @ img_all / temp, dim=1) * t_t2i).sum(1).mean()
        loss_itc = (loss_i2t + loss_t2i) / 2
        bs = len(images)
        with torch.no_grad():
            same = torch.eq(idx, idx.t())
            w_i2t = F.softmax(image_feat @ text_feat.t() / temp, dim=1).masked_fill(same, 0)
            w_t2i = F.softmax(text_feat @ image_feat.t() / temp, dim=1).masked_fill(same, 0)
            neg_img = torch.multinomial(w_t2i, 1).squeeze(1)
            neg_txt = torch.multinomial(w_i2t, 1).squeeze(1)
        ids_all = torch.cat([text.input_ids, text.input_ids[neg_txt], text.input_ids]).clone()
        ids_all[:, 0] = enc_id
        atts_all = torch.cat([text.attention_mask, text.attention_mask[neg_txt], text.attention_mask])
        images_all = torch.cat([image_embeds, image_embeds, image_embeds[neg_img]])
        fused = ref.text_encoder(input_ids=ids_all, attention_mask=atts_all, encoder_hidden_states=images_all,
                                 encoder_attention_mask=torch.ones(images_all.shape[:-1], dtype=torch.long))
        logits = ref.itm_head(fused.last_hidden_state[:, 0])
        labels = torch.cat([torch.ones(bs, dtype=torch.long), torch.zeros(2 * bs, dtype=torch.long)])
        loss = loss_itc + F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for m_on, m_m in zip(online, moment):
                for p, pm in zip(m_on.parameters(), m_m.parameters()):
                    pm.mul_(momentum).add_(p.detach(), alpha=1 - momentum)
            p = state['ptr']
            state['image_queue'][:, p:p + bs] = image_feat_m.t()
            state['text_queue'][:, p:p + bs] = text_feat_m.t()
            state['idx_queue'][:, p:p + bs] = idx.t()
            state['ptr'] = (p + bs) % queue
    return step


def retrieval_rows(args, vocab_dir: Path) -> dict:
    import transformers

    from fovea.engine.optim_wrapper import OptimWrapper
    from fovea.models.weights import load_weights
    from fovea.registry import MODELS
    from fovea.structures import DataSample
    (vw, *_), (tw, *_), embed = SIZES[args.size]
    queue = args.queue_size or args.retrieval_batch * 8
    cfg = dict(type='BlipRetrieval', tokenizer=dict(type='BlipTokenizer', name_or_path=str(vocab_dir)),
               vision_backbone=vit(args.size), text_backbone=dict(type='XBertEncoder', med_config=med_config(args.size)),
               vision_neck=dict(type='Linear', in_features=vw, out_features=embed),
               text_neck=dict(type='Linear', in_features=tw, out_features=embed),
               head=dict(type='ITCHead', embed_dim=embed, queue_size=queue),
               multimodal_head=dict(type='ITMHead', hidden_size=tw, with_pooler=False), max_txt_len=35,
               data_preprocessor=dict(mean=MEAN.flatten().tolist(), std=STD.flatten().tolist()))
    ours = MODELS.build(cfg).train()
    tok = ours.tokenizer
    ref = transformers.BlipForImageTextRetrieval(hf_config(args.size, tok.enc_token_id, tok.bos_token_id,
                                                           image_text_hidden_size=embed)).train()
    load_weights(ours, ref.state_dict(), require_all=True)
    hf_tok = transformers.BertTokenizerFast(str(vocab_dir / 'vocab.txt'), do_lower_case=True)
    size = SIZES[args.size][0][3]
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (args.retrieval_batch, 3, size, size), dtype=torch.uint8, generator=g)
    ow = OptimWrapper(torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=2e-5,
                                        weight_decay=0.04))

    def fovea_step(i):
        n = len(raw)
        samples = [DataSample(text=t, image_id=i * n + j) for j, t in enumerate(captions(n, i))]
        ours.train_step({'inputs': raw, 'data_samples': samples}, ow)

    step = hf_retrieval_step(ref, hf_tok, (raw.float() - MEAN) / STD, 0.995, queue, ours.head.alpha, 35,
                             tok.enc_token_id)

    def hf_step(i):
        step(i)  # the images are normalised once here, as fovea's data preprocessor does each step (negligible)

    return {'fovea': fovea_step, 'transformers': hf_step}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tiny', action='store_true', help='a 2-layer, 64-wide BLIP at 32 px (smoke runs)')
    ap.add_argument('--parts', default='caption,retrieval')
    ap.add_argument('--caption-batch', type=int, default=4, help='images captioned per step')
    ap.add_argument('--beams', type=int, default=3)
    ap.add_argument('--max-length', type=int, default=20)
    ap.add_argument('--min-length', type=int, default=5)
    ap.add_argument('--retrieval-batch', type=int, default=8, help='image-text pairs per training step')
    ap.add_argument('--queue-size', type=int, default=0, help='ITC queue length (default: 8 batches)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
    ap.add_argument('--iters', type=int, default=2, help='timed steps per row per round')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    args = ap.parse_args()
    args.size = 'tiny' if args.tiny else 'base'
    try:
        import transformers
    except ImportError:
        raise SystemExit('transformers is not installed: pip install "fovea[dev]" (benchmark-only dependency)')
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}, '
          f'BLIP {args.size}; timings on a shared machine are noisy.')
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_dir = write_vocab(Path(tmp)).parent
        for part in args.parts.split(','):
            if part == 'caption':
                rows = caption_rows(args, vocab_dir)
                report(f'Caption generation, beam {args.beams}, length {args.min_length}-{args.max_length}, '
                       f'{args.caption_batch} images per step', time_rows(rows, args.rounds, args.iters, args.warmup),
                       args.caption_batch, 'images')
            elif part == 'retrieval':
                rows = retrieval_rows(args, vocab_dir)
                report(f'Retrieval training step (ITC + momentum + queues, ITM on hard negatives), '
                       f'{args.retrieval_batch} pairs', time_rows(rows, args.rounds, args.iters, args.warmup),
                       args.retrieval_batch, 'pairs')
            else:
                raise SystemExit(f'unknown part {part!r}: caption, retrieval')


if __name__ == '__main__':
    main()

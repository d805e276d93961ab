"""BLIP on real images: a small captioner (or VQA model) fine-tuned on CIFAR-10 from templated text.

The 50,000 CIFAR-10 training JPEGs are paired with text written from templates and class synonyms (the
captions and synonyms of ``clip_cifar.py``: "a picture of a kitten.", "a blurry shot of the lorry."). The
WordPiece vocabulary is trained on those texts (Hugging Face ``tokenizers``' BERT WordPiece trainer) and
read by fovea's ``BlipTokenizer``. A small ViT (patch 4) and small BERTs with cross-attention train through
the models' own ``loss`` for ``--minutes`` (time-based warmup + cosine learning rate). Then, on test images
(``--test-subset`` of the 10,000, every class equally):

* ``--task caption`` (``BlipCaption``): captions by beam search (3 beams); BLEU-4 and CIDEr against
  *held-out* reference captions (OpenAI's 18 CIFAR templates, none of which is a training template, with
  each of the class's names: 72-108 references an image), and the share of captions that name the image's
  class (a synonym of it and of no other class; chance 10%);
* ``--task vqa`` (``BlipVQA``): "what is in the picture?" (the class name) and "is this a <class>?" (yes for
  the image's class, no for another, half each) for every test image; VQA accuracy (fovea's ``VQAAcc``) of
  open-ended answers (beam search) and of answers ranked over the 12 possible ones (chance: 10% for
  'what', 50% for yes/no, 30% in all).

    python benchmarks/blip_cifar.py --data /tmp/data/cifar10 --minutes 15 --threads 2
    python benchmarks/blip_cifar.py --task vqa --data /tmp/data/cifar10 --minutes 15 --threads 2
    python benchmarks/blip_cifar.py --minutes 0.2 --tiny                   # smoke run (either task)

Goals (issue 14): the caption names the right class for at least 50% of the images; VQA accuracy at least
60%. Run it on a quiet machine and say so with the numbers. Prints RESULT lines; ``--out`` writes JSON.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

import torch

from clip_cifar import CLASSES, SYNONYMS, TRAIN_TEMPLATES, adamw, augment, load_splits, warmup_cosine

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
WHAT_QUESTIONS = ['what is in the picture?', 'what is this?', 'what do you see in the image?']
YES_NO_QUESTIONS = ['is this a {}?', 'is there a {} in the picture?', 'is it a {}?']
TEST_WHAT, TEST_YES_NO = 'what is in the picture?', 'is this a {}?'     # the questions
ANSWERS = list(CLASSES) + ['yes', 'no']


def caption(label: int, rng: random.Random) -> str:
    return rng.choice(TRAIN_TEMPLATES).format(rng.choice(SYNONYMS[CLASSES[label]]))


def question(label: int, rng: random.Random, what: str | None = None, yes_no: str | None = None) -> tuple[str, str]:
    """A question about an image of class ``label`` and its answer: half 'what', half yes/no (half yes)."""
    if rng.random() < 0.5:
        return (what or rng.choice(WHAT_QUESTIONS)), CLASSES[label]
    asked = label if rng.random() < 0.5 else rng.choice([c for c in range(len(CLASSES)) if c != label])
    name = CLASSES[asked] if yes_no else rng.choice(SYNONYMS[CLASSES[asked]])
    return (yes_no or rng.choice(YES_NO_QUESTIONS)).format(name), 'yes' if asked == label else 'no'


def build_vocab(folder: Path, texts: list[str], size: int = 1000) -> Path:
    """A BERT WordPiece ``vocab.txt`` trained on ``texts`` (special tokens first, as BERT's)."""
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(lowercase=True)
    tok.train_from_iterator(texts, vocab_size=size, min_frequency=1, special_tokens=SPECIALS, show_progress=False)
    tok.save_model(str(folder))
    return folder / 'vocab.txt'


def _bert(width: int, layers: int, vocab: int, encoder_width: int) -> dict:
    return dict(hidden_size=width, num_hidden_layers=layers, num_attention_heads=max(1, width // 64),
                intermediate_size=4 * width, vocab_size=vocab, encoder_width=encoder_width, add_cross_attention=True,
                max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def build_model(task: str, vocab_dir: Path, tiny: bool, width: int, depth: int):
    from fovea.apis.model import build_model_from_cfg
    from fovea.data.text.bert_tokenizer import BlipTokenizer
    tokenizer = BlipTokenizer(str(vocab_dir))
    dims, layers, text_width, text_layers = (64, 2, 64, 1) if tiny else (width, depth, 128, 3)
    vit = dict(type='VisionTransformer', img_size=32, patch_size=4, out_type='raw', norm_cfg=dict(type='LN', eps=1e-6),
               arch=dict(embed_dims=dims, num_layers=layers, num_heads=max(1, dims // 64), feedforward_channels=4 * dims))
    tok = dict(type='BlipTokenizer', name_or_path=str(vocab_dir))
    pre = dict(mean=[125.3, 123.0, 113.9], std=[63.0, 62.1, 66.7])
    bert = _bert(text_width, text_layers, len(tokenizer), dims)
    if task == 'caption':
        cfg = dict(type='BlipCaption', vision_encoder=vit, tokenizer=tok, prompt='', max_txt_len=20,
                   decoder_head=dict(type='SeqGenerationHead', decoder=dict(type='XBertLMHeadDecoder', med_config=bert)),
                   generation_cfg=dict(num_beams=3, max_length=20, min_length=2), data_preprocessor=pre)
    else:
        cfg = dict(type='BlipVQA', vision_backbone=vit, tokenizer=tok, data_preprocessor=pre,
                   multimodal_backbone=dict(type='XBertEncoder', med_config=bert),
                   head=dict(type='VQAGenerationHead', num_beams=3, answer_list=ANSWERS,
                             decoder=dict(type='XBertLMHeadDecoder',
                                          med_config=dict(bert, encoder_width=text_width))))
    return build_model_from_cfg(cfg)


def names_of(text: str) -> set[str]:
    """The classes a caption names (a synonym as whole words)."""
    text = text.lower()
    return {c for c, names in SYNONYMS.items() if any(re.search(rf'\b{re.escape(n)}\b', text) for n in names)}


def _batches(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


@torch.no_grad()
def evaluate_captions(model, images: torch.Tensor, labels: torch.Tensor, batch: int = 100) -> dict:
    from fovea.data.text.prompts import OPENAI_CIFAR_TEMPLATES
    from fovea.evaluation.caption import caption_scores
    assert not set(OPENAI_CIFAR_TEMPLATES) & set(TRAIN_TEMPLATES)
    model.eval()
    preds = {}
    for sl in _batches(len(images), batch):
        x = model.data_preprocessor({'inputs': images[sl]}, False)['inputs']
        for i, c in zip(range(sl.start, sl.stop), model.generate(x)):
            preds[i] = c
    refs = {i: [t.format(name) for t in OPENAI_CIFAR_TEMPLATES for name in SYNONYMS[CLASSES[int(labels[i])]]]
            for i in preds}
    scores = caption_scores(preds, refs)
    named = sum(names_of(preds[i]) == {CLASSES[int(labels[i])]} for i in preds) / len(preds) * 100
    model.train()
    examples = {CLASSES[int(labels[i])]: preds[i] for i in sorted(preds, reverse=True)}
    return {'names_class_%': round(named, 2), 'BLEU-4': round(scores['Bleu_4'] * 100, 2),
            'CIDEr': round(scores['CIDEr'] * 100, 2), 'examples': examples}


@torch.no_grad()
def evaluate_vqa(model, images: torch.Tensor, labels: torch.Tensor, batch: int = 100, seed: int = 0) -> dict:
    from fovea.evaluation.vqa import VQAAcc
    from fovea.structures import DataSample
    rng = random.Random(seed)
    qa = [question(int(y), rng, TEST_WHAT, TEST_YES_NO) for y in labels]
    model.eval()
    out = {}
    for method in ('generate', 'rank'):
        model.vqa_head.inference_method = method
        metrics = {kind: VQAAcc() for kind in ('all', 'what', 'yes/no')}
        for sl in _batches(len(images), batch):
            x = model.data_preprocessor({'inputs': images[sl]}, False)['inputs']
            samples = [DataSample(question=q, gt_answer=[a]) for q, a in qa[sl]]
            preds = model.predict(x, samples)
            metrics['all'].process(None, preds)
            metrics['what'].process(None, [s for s in preds if s.question == TEST_WHAT])
            metrics['yes/no'].process(None, [s for s in preds if s.question != TEST_WHAT])
        for kind, m in metrics.items():
            out[f'{method}_VQAAcc_{kind}'] = round(m.compute_metrics(m.results)['acc'], 2)
    model.vqa_head.inference_method = 'generate'
    model.train()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--task', choices=('caption', 'vqa'), default='caption')
    p.add_argument('--data', default='/tmp/data/cifar10', help='folder with train/<class>/*.jpg and test/<class>/*.jpg')
    p.add_argument('--minutes', type=float, default=15.0, help='training budget (wall clock, after loading)')
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--train-subset', type=int, default=None, help='use this many training images (smoke runs)')
    p.add_argument('--test-subset', type=int, default=1000, help='test images evaluated (every class equally)')
    p.add_argument('--tiny', action='store_true', help='a much smaller model and data (smoke runs)')
    p.add_argument('--width', type=int, default=128, help='image tower width')
    p.add_argument('--depth', type=int, default=4, help='image tower layers')
    p.add_argument('--out', help='write the results as JSON here')
    args = p.parse_args()
    if args.tiny:
        args.train_subset, args.test_subset = args.train_subset or 1000, min(args.test_subset, 50)
        args.batch_size = min(args.batch_size, 32)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    train_x, train_y, test_x, test_y = load_splits(Path(args.data), args.train_subset, args.test_subset)

    from fovea.structures import DataSample
    texts = [t.format(s) for t in TRAIN_TEMPLATES for c in CLASSES for s in SYNONYMS[c]]
    texts += [q.format(s) for q in WHAT_QUESTIONS + YES_NO_QUESTIONS for c in CLASSES for s in SYNONYMS[c]]
    texts += ANSWERS
    with tempfile.TemporaryDirectory() as vocab_dir:
        build_vocab(Path(vocab_dir), texts)
        model = build_model(args.task, Path(vocab_dir), args.tiny, args.width, args.depth).train()
        evaluate = evaluate_captions if args.task == 'caption' else evaluate_vqa
        params = sum(p.numel() for p in model.parameters())
        print(f'{params / 1e6:.2f}M parameters, vocabulary of {len(model.tokenizer)} tokens')
        opt = adamw(model, args.lr, 0.05, betas=(0.9, 0.98))
        budget = args.minutes * 60
        start, step, losses = time.time(), 0, []
        while (elapsed := time.time() - start) < budget:
            lr = warmup_cosine(elapsed / budget, args.lr)
            for g in opt.param_groups:
                g['lr'] = lr
            idx = torch.randint(0, len(train_x), (args.batch_size,))
            if args.task == 'caption':
                samples = [DataSample(gt_caption=caption(int(train_y[i]), rng)) for i in idx]
            else:
                samples = []
                for i in idx:
                    q, a = question(int(train_y[i]), rng)
                    samples.append(DataSample(question=q, gt_answer=[a], gt_answer_weight=[1.0]))
            data = model.data_preprocessor({'inputs': augment(train_x[idx]), 'data_samples': samples}, True)
            loss, _ = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            model.after_optimizer_step(step + 1)
            step += 1
            losses.append(loss.item())
            if step % 50 == 0 or step == 1:
                print(f'step {step}  {elapsed / 60:.1f} min  lr {lr:.2e}  loss {sum(losses[-50:]) / len(losses[-50:]):.3f}',
                      flush=True)
        train_s = time.time() - start
        t1 = time.time()
        after = evaluate(model, test_x, test_y)
        eval_s = time.time() - t1
    result = {'task': args.task, 'model': 'tiny' if args.tiny else f'ViT {args.depth}x{args.width} patch 4 + BERT 3x128',
              'steps': step, 'train_minutes': round(train_s / 60, 2), 'batch_size': args.batch_size,
              'images_per_s': round(step * args.batch_size / max(train_s, 1e-9), 1), 'params_M': round(params / 1e6, 2),
              'threads': args.threads, 'test_images': len(test_x), 'eval_minutes': round(eval_s / 60, 2),
              'final_loss': round(sum(losses[-50:]) / max(1, len(losses[-50:])), 3), **after}
    print(f'RESULT blip_cifar_{args.task} ' + json.dumps(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()

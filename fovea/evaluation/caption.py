"""Caption metrics as the COCO caption evaluation (pycocoevalcap) reports them, MMPretrain's ``COCOCaption`` and
``NocapsSave``.

BLEU-1..4, ROUGE-L and CIDEr(-D) are computed here, in Python, with the COCO evaluation's definitions (corpus
BLEU with the closest reference length, ROUGE-L with beta 1.2, CIDEr-D with document frequencies over the
evaluated references, clipping and the length penalty of sigma 6), on captions tokenized as its Stanford
PTBTokenizer does (:func:`ptb_tokenize`). METEOR and SPICE are Java programs: they run through pycocoevalcap
when it and Java are installed (SPICE also needs the Stanford CoreNLP models it downloads once) and are
otherwise left out with one logged message.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from collections import Counter
from typing import Iterable, Sequence

from fovea.evaluation.base import BaseMetric
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError, DataError
from fovea.utils.io import atomic_open

__all__ = ['COCOCaption', 'NocapsSave', 'ptb_tokenize', 'bleu', 'cider', 'rouge_l', 'caption_scores']

logger = logging.getLogger('fovea')

# ---- tokenization (Stanford PTBTokenizer -lowerCase, then the COCO evaluation's punctuation filter)
# (the evaluation lists '-LRB-' etc. in upper case, which never match lower-cased tokens: brackets stay)
_PUNCTUATION = {"''", "'", '``', '`', '.', '?', '!', ',', ':', '-', '--', '...', ';', '"'}
_BRACKETS = {'(': '-lrb-', ')': '-rrb-', '[': '-lsb-', ']': '-rsb-', '{': '-lcb-', '}': '-rcb-'}
_SPLIT_WORDS = {'cannot': 'can not', 'gonna': 'gon na', 'gotta': 'got ta', 'wanna': 'wan na', "can't": "ca n't",
                "won't": "wo n't"}
_ABBREVIATIONS = {'mr.', 'mrs.', 'ms.', 'dr.', 'st.', 'jr.', 'sr.', 'vs.', 'mt.', 'ft.', 'no.', 'inc.', 'co.'}
_TOKEN = re.compile(r"""
    \d+(?:[.,:]\d+)+(?:[-/]\w+)*   # 3.5  1,000  10:30  1,000-dollar
  | (?:[a-z]\.){2,}             # u.s.  e.g.
  | [a-z]+\.(?=\s|$)            # mr. (kept only if an abbreviation, below)
  | \w+(?=n't\b)                # do|n't
  | n't\b
  | '(?:s|re|ve|ll|d|m|n')(?=\W|$)   # clitics: 's 're ... 'n'
  | \w+(?:[-/&]\w+|'(?!(?:s|re|ve|ll|d|m|n')(?:\W|$))\w+)*   # close-up  dog/cat  o'clock
  | \.\.\.|--
  | \S
""", re.VERBOSE)


def ptb_tokenize(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` as Stanford's PTBTokenizer makes them, without the punctuation tokens the
    COCO caption evaluation drops (``a man's dog.`` -> ``['a', 'man', "'s", 'dog']``)."""
    text = ' '.join(_SPLIT_WORDS.get(w, w) for w in text.lower().split())
    out = []
    for tok in _TOKEN.findall(text):
        if tok.endswith('.') and tok[:-1].isalpha() and tok not in _ABBREVIATIONS:
            out.extend((tok[:-1], '.'))
        else:
            out.append(_BRACKETS.get(tok, tok))
    return [t for t in out if t not in _PUNCTUATION]


# ---- the scores, on token lists
def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1))


def bleu(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]], n: int = 4) -> list[float]:
    """Corpus BLEU-1..n (0-1) of tokenized hypotheses against their references, as pycocoevalcap's ``Bleu``:
    clipped n-gram counts summed over the corpus, the brevity penalty from each hypothesis' closest reference
    length (the shorter on ties)."""
    small, tiny = 1e-9, 1e-15
    correct, guess = [0] * n, [0] * n
    hyp_len = ref_len = 0
    for hyp, rs in zip(hyps, refs):
        counts = _ngrams(hyp, n)
        best: Counter = Counter()
        for r in rs:
            best |= _ngrams(r, n)
        for gram, c in counts.items():
            correct[len(gram) - 1] += min(c, best[gram])
        for k in range(n):
            guess[k] += max(0, len(hyp) - k)
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in rs)[1]
    scores, prod = [], 1.0
    for k in range(n):
        prod *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(prod ** (1 / (k + 1)))
    ratio = (hyp_len + tiny) / (ref_len + small)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]], beta: float = 1.2) -> float:
    """Mean ROUGE-L F-score (0-1): per hypothesis, the best LCS precision and recall over its references."""
    total = 0.0
    for hyp, rs in zip(hyps, refs):
        lcs = [_lcs(r, hyp) for r in rs]
        p = max(l / max(len(hyp), 1) for l in lcs)
        r = max(l / max(len(ref), 1) for l, ref in zip(lcs, rs))
        total += (1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0
    return total / len(hyps)


def cider(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]], n: int = 4,
          sigma: float = 6.0) -> float:
    """CIDEr-D as pycocoevalcap's ``Cider`` (its reported 'CIDEr'): TF-IDF n-gram vectors, document
    frequencies over the references of the evaluated images, clipped cosine similarity, a Gaussian penalty on
    the length difference (lengths counted in bigrams, as that implementation does), times 10."""
    ref_grams = [[_ngrams(r, n) for r in rs] for rs in refs]
    df: Counter = Counter()
    for grams in ref_grams:
        df.update(set().union(*grams))
    log_n = math.log(len(refs))

    def vec(counts: Counter):
        v = [{} for _ in range(n)]
        for gram, tf in counts.items():
            v[len(gram) - 1][gram] = tf * (log_n - math.log(max(1.0, df[gram])))
        norms = [math.sqrt(sum(x * x for x in d.values())) for d in v]
        return v, norms, sum(tf for g, tf in counts.items() if len(g) == 2)

    total = 0.0
    for hyp, grams in zip(hyps, ref_grams):
        hv, hn, hl = vec(_ngrams(hyp, n))
        score = 0.0
        for g in grams:
            rv, rn, rl = vec(g)
            penalty = math.exp(-((hl - rl) ** 2) / (2 * sigma ** 2))
            for k in range(n):
                s = sum(min(w, rv[k].get(gram, 0.0)) * rv[k].get(gram, 0.0) for gram, w in hv[k].items())
                if hn[k] and rn[k]:
                    s /= hn[k] * rn[k]
                score += s * penalty
        total += score / n / len(grams) * 10
    return total / len(hyps)


def caption_scores(preds: dict, refs: dict) -> dict[str, float]:
    """``Bleu_1``..``Bleu_4``, ``ROUGE_L`` and ``CIDEr`` (0-1 scale, CIDEr 0-10) of ``{image_id: caption}``
    against ``{image_id: [reference, ...]}``, over the predicted images."""
    ids = list(preds)
    hyps = [ptb_tokenize(preds[i]) for i in ids]
    rs = [[ptb_tokenize(r) for r in refs[i]] for i in ids]
    out = {f'Bleu_{k + 1}': s for k, s in enumerate(bleu(hyps, rs))}
    out['ROUGE_L'] = rouge_l(hyps, rs)
    out['CIDEr'] = cider(hyps, rs)
    return out


def _java_scores(names: Iterable[str], preds: dict, refs: dict) -> dict[str, float]:
    """METEOR / SPICE through pycocoevalcap (on its own PTB tokenization), those that can run here."""
    names = list(names)
    if not names:
        return {}
    try:
        import pycocoevalcap
    except ImportError:
        pycocoevalcap = None
    why = None
    if pycocoevalcap is None:
        why = 'pycocoevalcap is not installed (pip install pycocoevalcap)'
    elif shutil.which('java') is None:
        why = 'Java is not installed'
    lib = os.path.join(list(pycocoevalcap.__path__)[0], 'spice', 'lib') if pycocoevalcap else ''  # a namespace package
    runnable = [] if why else [m for m in names if m != 'SPICE' or
                               os.path.isfile(os.path.join(lib, 'stanford-corenlp-3.6.0-models.jar'))]
    skipped = [m for m in names if m not in runnable]
    if skipped:
        logger.warning('COCOCaption: %s left out: %s.', ' and '.join(skipped),
                       why or "SPICE needs the Stanford CoreNLP models (pycocoevalcap's "
                              "spice/get_stanford_models.py downloads them)")
    if not runnable:
        return {}
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{'caption': r} for r in refs[i]] for i in preds})
    res = tok.tokenize({i: [{'caption': preds[i]}] for i in preds})
    out = {}
    for name in runnable:
        if name == 'METEOR':
            from pycocoevalcap.meteor.meteor import Meteor as scorer
        else:
            from pycocoevalcap.spice.spice import Spice as scorer
        out[name] = float(scorer().compute_score(gts, res)[0])
    return out


def _caption_records(metric: BaseMetric, data_samples) -> None:
    for s in data_samples:
        caption, image_id = s.get('pred_caption'), s.get('image_id')
        if isinstance(caption, (list, tuple)):  # several captions per image (num_captions > 1): the first
            caption = caption[0] if caption else None
        if not isinstance(caption, str) or image_id is None:
            raise DataError(f'{type(metric).__name__}: a sample without pred_caption or image_id (it has '
                            f'{sorted(s.keys()) if hasattr(s, "keys") else s}); pack image_id with '
                            f"PackInputs(meta_keys=['image_id']) and predict with a captioning model.")
        metric.results.append({'caption': caption, 'image_id': int(image_id)})


def _first_per_image(results: list) -> list:
    seen, out = set(), []
    for r in results:
        if r['image_id'] not in seen:
            seen.add(r['image_id'])
            out.append(r)
    return out


@METRICS.register_module()
class COCOCaption(BaseMetric):
    """COCO caption evaluation of ``pred_caption`` against a COCO-format ground truth (LAVIS'
    ``coco_karpathy_val_gt.json``; Flickr30k's made by MMPretrain's ``convert_flickr30k_ann.py``): the keys
    pycocoevalcap reports, ``Bleu_1``..``Bleu_4``, ``ROUGE_L``, ``CIDEr`` (values 0-1; CIDEr about 0-10),
    plus ``METEOR`` and ``SPICE`` where they can run. One caption per image (the first) counts.

    Args:
        ann_file: the ground-truth file: ``{'annotations': [{'image_id', 'caption'}, ...], ...}``.
        java_metrics: the pycocoevalcap Java metrics to add when Java is present ('METEOR', 'SPICE'); ``()``
            to skip them.
    """

    def __init__(self, ann_file: str, java_metrics: Sequence[str] = ('METEOR', 'SPICE'), collect_device: str = 'cpu',
                 prefix: str | None = None):
        super().__init__(collect_device, prefix)
        unknown = set(java_metrics) - {'METEOR', 'SPICE'}
        if unknown:
            raise ConfigError(f"COCOCaption java_metrics: {sorted(unknown)} unknown; choose from 'METEOR', 'SPICE'.")
        self.ann_file, self.java_metrics = ann_file, tuple(java_metrics)

    def process(self, data_batch, data_samples) -> None:
        _caption_records(self, data_samples)

    def references(self) -> dict:
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                anns = json.load(f)['annotations']
            refs: dict = {}
            for a in anns:
                refs.setdefault(int(a['image_id']), []).append(a['caption'])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f'COCOCaption: ann_file {self.ann_file!r} is not a COCO-format caption file '
                            f"({{'annotations': [{{'image_id', 'caption'}}, ...]}}): {type(exc).__name__}: "
                            f'{exc}') from None
        return refs

    def compute_metrics(self, results: list) -> dict[str, float]:
        refs = self.references()
        preds = {r['image_id']: r['caption'] for r in _first_per_image(results)}
        missing = [i for i in preds if i not in refs]
        if missing:
            raise DataError(f'COCOCaption: {len(missing)} predicted image(s) have no reference caption in '
                            f'{self.ann_file} (image_id {missing[0]}); evaluate with the ground truth of the same '
                            f'split.')
        out = caption_scores(preds, refs)
        out.update(_java_scores(self.java_metrics, preds, refs))
        return out


@METRICS.register_module()
class NocapsSave(BaseMetric):
    """Write the predicted captions (one per image) to ``<save_dir>/nocap_pred.json`` for the NoCaps evaluation
    server (``[{'image_id', 'caption'}, ...]``); reports no numbers.

    Args:
        save_dir: the folder of the file.
    """

    def __init__(self, save_dir: str = './', collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.save_dir = save_dir

    def process(self, data_batch, data_samples) -> None:
        _caption_records(self, data_samples)

    def compute_metrics(self, results: list) -> dict:
        os.makedirs(self.save_dir, exist_ok=True)
        path = os.path.join(self.save_dir, 'nocap_pred.json')
        with atomic_open(path, 'w') as f:
            json.dump(_first_per_image(results), f)
        logger.info('NocapsSave: wrote %d captions to %s', len(results), path)
        return {}

"""Question answering metrics (MMPretrain's names and keys): VQAAcc (VQAv2's accuracy), ReportVQA (the
answer file for the VQAv2 server), GQAAcc, ANLS (average normalised Levenshtein similarity, for text in
images) and ScienceQAMetric (accuracy by subject, context and grade).

Answers are compared after the official VQA evaluation's normalisation (:func:`normalize_answer`: punctuation,
number words, articles, contractions), as MMPretrain does.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Sequence

from fovea.evaluation.base import BaseMetric
from fovea.registry import METRICS
from fovea.utils.errors import ConfigError, DataError
from fovea.utils.io import atomic_open

__all__ = ['VQAAcc', 'ReportVQA', 'GQAAcc', 'ANLS', 'ScienceQAMetric', 'normalize_answer', 'levenshtein']

logger = logging.getLogger('fovea')

# ---- the official VQA answer normalisation (GT-Vision-Lab/VQA, vqaEval.py)
_PUNCT = [';', r'/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!']
_COMMA_STRIP = re.compile(r'(\d)(,)(\d)')
_PERIOD_STRIP = re.compile(r'(?!<=\d)(\.)(?!\d)')
_NUMBERS = {'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4', 'five': '5', 'six': '6',
            'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10'}
_ARTICLES = {'a', 'an', 'the'}
_CONTRACTIONS = dict(pair.split('=', 1) for pair in """
    aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
    couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
    hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's howd=how'd
    howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't itd=it'd itd've=it'd've
    it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't mightnt've=mightn't've
    mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've neednt=needn't notve=not've
    oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at 'ow'sat='ow's'at shant=shan't
    shed've=she'd've she'dve=she'd've she's=she's shouldve=should've shouldnt=shouldn't shouldnt've=shouldn't've
    shouldn'tve=shouldn't've somebody'd=somebodyd somebodyd've=somebody'd've somebody'dve=somebody'd've
    somebodyll=somebody'll somebodys=somebody's someoned=someone'd someoned've=someone'd've
    someone'dve=someone'd've someonell=someone'll someones=someone's somethingd=something'd
    somethingd've=something'd've something'dve=something'd've somethingll=something'll thats=that's
    thered=there'd thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd
    theyd've=they'd've they'dve=they'd've theyll=they'll theyre=they're theyve=they've twas='twas wasnt=wasn't
    wed've=we'd've we'dve=we'd've weve=we've werent=weren't whatll=what'll whatre=what're whats=what's
    whatve=what've whens=when's whered=where'd wheres=where's whereve=where've whod=who'd whod've=who'd've
    who'dve=who'd've wholl=who'll whos=who's whove=who've whyll=why'll whyre=why're whys=why's wont=won't
    wouldve=would've wouldnt=wouldn't wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll
    y'allll=y'all'll yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
    you'dve=you'd've youll=you'll youre=you're youve=you've
""".split())


def normalize_answer(answer: str) -> str:
    """An answer as the VQA evaluation compares it: whitespace, punctuation (removed next to spaces or in numbers
    like 1,000, else a space), periods not in numbers, lower case, number words as digits, no articles, and
    contractions written with their apostrophe (``dont`` -> ``don't``)."""
    text = answer.replace('\n', ' ').replace('\t', ' ').strip()
    out = text
    strip_all = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        out = out.replace(p, '' if strip_all or p + ' ' in text or ' ' + p in text else ' ')
    out = _PERIOD_STRIP.sub('', out)
    words = [_NUMBERS.get(w, w) for w in out.lower().split()]
    return ' '.join(_CONTRACTIONS.get(w, w) for w in words if w not in _ARTICLES)


def _answer_of(metric: BaseMetric, sample) -> str:
    pred = sample.get('pred_answer')
    if not isinstance(pred, str):
        raise DataError(f'{type(metric).__name__}: a sample has no pred_answer string (got {pred!r}); evaluate the '
                        f'predictions of a question answering model.')
    return pred


def _gt_of(metric: BaseMetric, sample):
    gt = sample.get('gt_answer')
    if gt is None:
        raise DataError(f'{type(metric).__name__}: a sample has no gt_answer; pack it with '
                        f"PackInputs(algorithm_keys=[..., 'gt_answer']) from a dataset with answers (test "
                        f'splits without answers are reported with ReportVQA).')
    return gt


@METRICS.register_module()
class VQAAcc(BaseMetric):
    """VQA accuracy in percent (``VQA/acc``): a prediction scores min(1, votes / 3) when votes of the ten
    annotators gave it (after normalisation), i.e. min(1, summed ``gt_answer_weight`` / ``full_score_weight``).

    Args:
        full_score_weight: the share of votes that gives full credit (0.3: three of ten).
    """
    default_prefix = 'VQA'

    def __init__(self, full_score_weight: float = 0.3, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if not full_score_weight > 0:
            raise ConfigError(f'VQAAcc full_score_weight={full_score_weight!r}: give a share of votes > 0 (0.3).')
        self.full_score_weight = full_score_weight

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            gt = _gt_of(self, s)
            gt = [gt] if isinstance(gt, str) else list(gt)
            weight = s.get('gt_answer_weight')
            weight = [1 / len(gt)] * len(gt) if weight is None else [float(w) for w in weight]
            if len(weight) != len(gt):
                raise DataError(f'VQAAcc: {len(gt)} gt_answer but {len(weight)} gt_answer_weight values in a sample.')
            self.results.append({'pred_answer': _answer_of(self, s), 'gt_answer': gt, 'gt_answer_weight': weight})

    def compute_metrics(self, results: list) -> dict[str, float]:
        total = 0.0
        for r in results:
            pred = normalize_answer(r['pred_answer'])
            votes = sum(w for a, w in zip(r['gt_answer'], r['gt_answer_weight']) if normalize_answer(a) == pred)
            total += min(1.0, votes / self.full_score_weight)
        return {'acc': total / len(results) * 100}


@METRICS.register_module()
class ReportVQA(BaseMetric):
    """Write ``[{'question_id', 'answer'}, ...]`` to ``file_path`` (a .json) for the VQAv2 test server; reports
    no numbers."""
    default_prefix = 'VQA'

    def __init__(self, file_path: str, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        if not str(file_path).endswith('.json'):
            raise ConfigError(f'ReportVQA file_path={file_path!r}: the answer file must be a .json file.')
        self.file_path = file_path

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            qid = s.get('question_id')
            if qid is None:
                raise DataError("ReportVQA: a sample has no question_id; pack it with PackInputs(meta_keys="
                                "['question_id']).")
            self.results.append({'question_id': int(qid), 'answer': _answer_of(self, s)})

    def compute_metrics(self, results: list) -> dict:
        folder = os.path.dirname(self.file_path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with atomic_open(self.file_path, 'w') as f:
            json.dump(results, f)
        logger.info('ReportVQA: wrote %d answers to %s', len(results), self.file_path)
        return {}


@METRICS.register_module()
class GQAAcc(BaseMetric):
    """GQA accuracy (``GQA/acc``, 0-1 as MMPretrain): the normalised prediction equals the normalised answer."""
    default_prefix = 'GQA'

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            self.results.append({'pred_answer': _answer_of(self, s), 'gt_answer': str(_gt_of(self, s))})

    def compute_metrics(self, results: list) -> dict[str, float]:
        hits = sum(normalize_answer(r['pred_answer']) == normalize_answer(r['gt_answer']) for r in results)
        return {'acc': hits / len(results)}


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) > len(b):
        a, b = b, a
    prev = list(range(len(a) + 1))
    for i, cb in enumerate(b, 1):
        cur = [i]
        for j, ca in enumerate(a, 1):
            cur.append(prev[j - 1] if ca == cb else 1 + min(prev[j - 1], prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


@METRICS.register_module()
class ANLS(BaseMetric):
    """Average normalised Levenshtein similarity (``ANLS/ANLS``, 0-1): per question the best 1 - distance / length
    over its answers (lower case, whitespace collapsed), 0 when below ``threshold``.

    Args:
        threshold: similarities under it count 0 (0.5).
    """
    default_prefix = 'ANLS'

    def __init__(self, threshold: float = 0.5, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.threshold = threshold

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            gt = _gt_of(self, s)
            self.results.append({'pred_answer': _answer_of(self, s), 'gt_answer': [gt] if isinstance(gt, str) else list(gt)})

    def compute_metrics(self, results: list) -> dict[str, float]:
        total = 0.0
        for r in results:
            pred = ' '.join(r['pred_answer'].strip().lower().split())
            best = 0.0
            for gt in r['gt_answer']:
                gt = ' '.join(gt.strip().lower().split())
                length = max(len(gt), len(r['pred_answer']))
                best = max(best, 1.0 - (levenshtein(gt, pred) / length if length else 0.0))
            total += best if best >= self.threshold else 0.0
        return {'ANLS': total / len(results)}


@METRICS.register_module()
class ScienceQAMetric(BaseMetric):
    """ScienceQA accuracy (0-1) overall (``all_acc``) and by subject (``acc_natural``, ``acc_social``,
    ``acc_language``), context (``acc_has_text`` for a hint, else ``acc_has_image``, else ``acc_no_context``)
    and grade (``acc_grade_1_6``, ``acc_grade_7_12``); groups without questions are left out.
    ``pred_answer`` is an option letter; one outside the question's options counts as wrong (MMPretrain
    draws a random choice instead).

    Args:
        options: the option letters, in choice order.
    """
    SUBJECTS = {'natural science': 'acc_natural', 'social science': 'acc_social', 'language science': 'acc_language'}
    GRADES = {**{f'grade{g}': 'acc_grade_1_6' for g in range(1, 7)}, **{f'grade{g}': 'acc_grade_7_12' for g in range(7, 13)}}

    def __init__(self, options: Sequence[str] = ('A', 'B', 'C', 'D', 'E'), collect_device: str = 'cpu',
                 prefix: str | None = None):
        super().__init__(collect_device, prefix)
        self.options = list(options)

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            choices = s.get('choices')
            if choices is None:
                raise DataError("ScienceQAMetric: a sample has no choices; pack 'choices', 'gt_answer', 'hint', "
                                "'subject', 'grade' and 'has_image' with PackInputs(algorithm_keys=[...]).")
            pred = _answer_of(self, s).strip()
            valid = self.options[:len(choices)]
            hint, has_image = s.get('hint') or '', bool(s.get('has_image', False))
            context = 'acc_has_text' if hint else 'acc_has_image' if has_image else 'acc_no_context'
            self.results.append({'correct': pred in valid and valid.index(pred) == int(_gt_of(self, s)),
                                 'groups': [self.SUBJECTS.get(s.get('subject')), context,
                                            self.GRADES.get(s.get('grade'))]})

    def compute_metrics(self, results: list) -> dict[str, float]:
        groups: dict[str, list[bool]] = {'all_acc': [r['correct'] for r in results]}
        for r in results:
            for g in r['groups']:
                if g is not None:
                    groups.setdefault(g, []).append(r['correct'])
        order = ['all_acc', *self.SUBJECTS.values(), 'acc_has_text', 'acc_has_image', 'acc_no_context',
                 'acc_grade_1_6', 'acc_grade_7_12']
        return {k: sum(groups[k]) / len(groups[k]) for k in order if k in groups}

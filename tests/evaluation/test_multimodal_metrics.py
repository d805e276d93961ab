"""Caption, VQA, grounding, ScienceQA, GQA, ANLS and retrieval metrics: against pycocoevalcap's scorers (same
tokens), Stanford's PTBTokenizer (Java), MMPretrain's answer normalisation and values worked out by hand."""
from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from fovea.evaluation import Evaluator
from fovea.evaluation.caption import bleu, caption_scores, cider, ptb_tokenize, rouge_l
from fovea.evaluation.vqa import normalize_answer
from fovea.registry import METRICS
from fovea.structures import DataSample
from fovea.utils.errors import DataError

# image id -> references (COCO-style, with the punctuation and case real annotations have) and a prediction
CAPTIONS = {
    391895: (['A man with a red helmet on a small moped on a dirt road.', 'Man riding a motor bike on a dirt road on '
              'the countryside.', 'A man riding on the back of a motorcycle.', "A man's motorbike (red) parked by a "
              'road, near the hills!'], 'a man riding a motorcycle on a dirt road'),
    522418: (['A woman wearing a net on her head cutting a cake.', "A woman cutting a large white sheet cake.",
              "A woman wearing a hair net cutting a large sheet cake.", "there's a woman that is cutting a cake"],
             'a woman cutting a large white cake'),
    184613: (['A child holding a flowered umbrella and petting a yak.', 'A young man holding an umbrella next to '
              'a herd of cattle.', "A boy doesn't hold the U.S. flag; he holds an umbrella."], 'a boy with an umbrella'),
    318219: (['A young boy standing in front of a computer keyboard.', 'a little boy wearing headphones and looking '
              'at a computer monitor', 'A boy is on a computer -- with headphones.'], 'a child is using a computer'),
    554625: (['A boy wearing headphones using one computer in a long row of computers.', 'A little boy with '
              'earphones on listening to something.', 'A group of people sitting at desk using computers.'],
             'a group of people sitting at a table with computers'),
}
PREDS = {i: p for i, (_, p) in CAPTIONS.items()}
REFS = {i: r for i, (r, _) in CAPTIONS.items()}


def _tokens(refs, preds, tokenize):
    ids = list(preds)
    return ([tokenize(preds[i]) for i in ids], [[tokenize(r) for r in refs[i]] for i in ids], ids)


def test_bleu_rouge_cider_equal_pycocoevalcap_on_the_same_tokens():
    pytest.importorskip('pycocoevalcap')
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    hyps, refs, ids = _tokens(REFS, PREDS, ptb_tokenize)
    gts = {i: [' '.join(r) for r in rs] for i, rs in zip(ids, refs)}
    res = {i: [' '.join(h)] for i, h in zip(ids, hyps)}
    ref_bleu = Bleu(4).compute_score(gts, res, verbose=0)[0]
    assert bleu(hyps, refs) == pytest.approx(ref_bleu, abs=1e-12)
    assert rouge_l(hyps, refs) == pytest.approx(Rouge().compute_score(gts, res)[0], abs=1e-12)
    assert cider(hyps, refs) == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-12)
    assert 0.3 < ref_bleu[3] < ref_bleu[0] < 1  # a fixture where BLEU-4 and clipping matter


def test_bleu_and_cider_by_hand():
    # 'a cat' against 'a cat sat': every n-gram matches, brevity penalty exp(1 - 3/2)
    assert bleu([['a', 'cat']], [[['a', 'cat', 'sat']]])[:2] == pytest.approx([math.exp(-0.5)] * 2)
    # closest reference length: 2 (the shorter of 2 and 4 equally close to 3) -> no penalty; 2 of 3 unigrams match
    assert bleu([['a', 'cat', 'dog']], [[['a', 'cat'], ['a', 'cat', 'on', 'mat']]])[0] == pytest.approx(2 / 3)
    # one image: every reference n-gram has document frequency 1 = the number of images, so idf 0 and CIDEr 0
    assert cider([['a', 'cat']], [[['a', 'cat']]]) == 0.0
    # two images, each caption equal to its own reference and sharing no n-gram with the other: cosine 1 for
    # n = 1..4, CIDEr 10; two-word captions have no 3- and 4-grams, so half of that
    a, b = ['a', 'cat', 'on', 'mat'], ['one', 'dog', 'in', 'park']
    assert cider([a, b], [[a], [b]]) == pytest.approx(10.0)
    assert cider([a[:2], b[:2]], [[a[:2]], [b[:2]]]) == pytest.approx(5.0)


@pytest.mark.skipif(shutil.which('java') is None, reason='Stanford PTBTokenizer needs Java')
def test_ptb_tokenize_matches_stanford_tokenizer():
    pytest.importorskip('pycocoevalcap')
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    sentences = [r for rs in REFS.values() for r in rs] + list(PREDS.values()) + [
        "I can't, won't; it's 10:30 -- 50% off & $5!", 'A close-up of a 3.5 inch, 1,000-dollar "phone" [new].',
        "Mr. Smith's dog/cat isn't here... e.g. gonna go."]
    java = PTBTokenizer().tokenize({k: [{'caption': s}] for k, s in enumerate(sentences)})
    assert [ptb_tokenize(s) for s in sentences] == [java[k][0].split() for k in range(len(sentences))]


@pytest.fixture()
def gt_file(tmp_path):
    path = tmp_path / 'coco_karpathy_val_gt.json'
    path.write_text(json.dumps({'images': [{'id': i} for i in REFS], 'annotations': [
        {'image_id': i, 'id': 10 * i + k, 'caption': c} for i, rs in REFS.items() for k, c in enumerate(rs)]}))
    return path


def _caption_samples(preds):
    return [DataSample(metainfo={'image_id': str(i)}, pred_caption=p) for i, p in preds.items()]


def test_coco_caption_metric_keys_and_duplicates(gt_file, caplog):
    evaluator = Evaluator(dict(type='COCOCaption', ann_file=str(gt_file), java_metrics=('SPICE',)))
    samples = _caption_samples(PREDS)
    evaluator.process(samples[:3])
    samples[4] = DataSample(metainfo={'image_id': '554625'}, pred_caption=[PREDS[554625], 'other'])  # first counts
    evaluator.process(samples[3:] + [DataSample(metainfo={'image_id': '391895'}, pred_caption='a dog')])  # repeat
    with caplog.at_level(logging.WARNING, logger='fovea'):
        out = evaluator.evaluate(6)
    assert set(out) == {'Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr'}
    assert out == pytest.approx(caption_scores(PREDS, REFS))  # the repeated image's second caption is ignored
    spice = [r for r in caplog.records if 'SPICE' in r.getMessage()]
    assert len(spice) == 1 and 'left out' in spice[0].getMessage()


@pytest.mark.skipif(shutil.which('java') is None, reason='Stanford PTBTokenizer needs Java')
def test_coco_caption_metric_equals_coco_evaluation(gt_file):
    """End to end: fovea's numbers equal pycocoevalcap's on its own (Java) tokenization."""
    pytest.importorskip('pycocoevalcap')
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{'caption': r} for r in rs] for i, rs in REFS.items()})
    res = tok.tokenize({i: [{'caption': p}] for i, p in PREDS.items()})
    expected = dict(zip(['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4'], Bleu(4).compute_score(gts, res, verbose=0)[0]))
    expected.update(ROUGE_L=Rouge().compute_score(gts, res)[0], CIDEr=Cider().compute_score(gts, res)[0])
    metric = METRICS.build(dict(type='COCOCaption', ann_file=str(gt_file), java_metrics=()))
    metric.process(None, _caption_samples(PREDS))
    assert metric.evaluate(5) == pytest.approx(expected, abs=1e-9)


@pytest.mark.skipif(shutil.which('java') is None, reason='the PTB tokenization for METEOR needs Java')
def test_coco_caption_hands_meteor_pycocoevalcaps_tokens(gt_file, monkeypatch):
    """METEOR runs pycocoevalcap's scorer on its PTB tokens (the real scorer takes minutes to load its
    paraphrase tables on a busy core: a stand-in records what it is given)."""
    pytest.importorskip('pycocoevalcap')
    import pycocoevalcap.meteor.meteor as meteor
    seen = {}

    class Recorder:
        def compute_score(self, gts, res):
            seen.update(gts=gts, res=res)
            return 0.25, [0.25] * len(res)

    monkeypatch.setattr(meteor, 'Meteor', Recorder)
    metric = METRICS.build(dict(type='COCOCaption', ann_file=str(gt_file), java_metrics=('METEOR',)))
    metric.process(None, _caption_samples(PREDS))
    assert metric.evaluate(5)['METEOR'] == 0.25
    assert seen['res'][522418] == ['a woman cutting a large white cake']
    assert seen['gts'][184613][2] == "a boy does n't hold the u.s. flag he holds an umbrella"


def test_coco_caption_errors(gt_file, tmp_path):
    metric = METRICS.build(dict(type='COCOCaption', ann_file=str(gt_file), java_metrics=()))
    with pytest.raises(DataError, match="pred_caption or image_id.*meta_keys=\\['image_id'\\]"):
        metric.process(None, [DataSample(pred_caption='x')])
    metric.process(None, _caption_samples({7: 'a cat'}))
    with pytest.raises(DataError, match='no reference caption in .*image_id 7'):
        metric.evaluate(1)
    bad = tmp_path / 'bad.json'
    bad.write_text('[]')
    metric = METRICS.build(dict(type='COCOCaption', ann_file=str(bad), java_metrics=()))
    metric.process(None, _caption_samples({1: 'x'}))
    with pytest.raises(DataError, match='bad.json.*not a COCO-format caption file'):
        metric.evaluate(1)


def test_nocaps_save_writes_one_caption_per_image(tmp_path):
    metric = METRICS.build(dict(type='NocapsSave', save_dir=str(tmp_path / 'out')))
    metric.process(None, _caption_samples({0: 'a cat', 1: 'a dog'}) + _caption_samples({0: 'again'}))
    assert metric.evaluate(3) == {}
    assert json.loads((tmp_path / 'out' / 'nocap_pred.json').read_text()) == [
        {'caption': 'a cat', 'image_id': 0}, {'caption': 'a dog', 'image_id': 1}]


# ---- question answering
def _qa(pred, gt, weight=None, **kw):
    fields = dict(pred_answer=pred, gt_answer=gt, **kw)
    if weight is not None:
        fields['gt_answer_weight'] = weight
    return DataSample(**fields)


def test_vqa_acc_min_of_one_and_votes_over_three():
    # ten annotators: 'two' 2 votes, 'three' 5, 'four' 3 -> predictions scoring 2/3, 1, 1 and 0
    gt, w = ['two', 'three', 'four'], [0.2, 0.5, 0.3]
    samples = [_qa('2', gt, w), _qa('Three.', gt, w), _qa('the four', gt, w), _qa('five', gt, w)]
    evaluator = Evaluator([dict(type='VQAAcc')])
    evaluator.process(samples)
    assert evaluator.evaluate(4) == pytest.approx({'VQA/acc': (2 / 3 + 1 + 1 + 0) / 4 * 100})
    # without weights every listed answer has an equal share: one of two answers = 0.5 / 0.3 -> capped at 1
    metric = METRICS.build(dict(type='VQAAcc'))
    metric.process(None, [_qa('yes', ['yes', 'no']), _qa('no', 'yes')])
    assert metric.evaluate(2) == pytest.approx({'VQA/acc': 50.0})


def test_answer_normalisation_cases():
    assert normalize_answer('Two dogs!') == '2 dogs'
    assert normalize_answer('the 1,000 cats.') == '1000 cats'
    assert normalize_answer(' dont know\n') == "don't know"
    assert normalize_answer('a man/woman') == 'man woman'
    assert normalize_answer('3.5 inches') == '3.5 inches'
    assert normalize_answer('left - right') == 'left right'


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.skipif(not Path('/work/refvenv/bin/python').exists(), reason='MMPretrain 1.2.0 venv not installed')
def test_answer_normalisation_matches_mmpretrain():
    answers = ['Two dogs!', 'the 1,000 cats.', ' dont know', 'a man/woman', "it's 3.5", 'Yes; (maybe)', 'x-ray',
               'hes here.', 'none of them', "black & white", 'a.b.c', 'USA!!', '10,5', 'e-mail @home']
    code = ('import json,sys; from mmpretrain.evaluation.metrics.vqa import _process_digit_article as d, '
            '_process_punctuation as p; print(json.dumps([d(p(a.strip())) for a in json.loads(sys.argv[1])]))')
    out = subprocess.run(['/work/refvenv/bin/python', '-c', code, json.dumps(answers)], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert [normalize_answer(a) for a in answers] == json.loads(out.strip().splitlines()[-1])


def test_gqa_acc_and_anls():
    gqa = METRICS.build(dict(type='GQAAcc'))
    gqa.process(None, [_qa('Yes.', 'yes'), _qa('the table', 'table'), _qa('chair', 'table')])
    assert gqa.evaluate(3) == pytest.approx({'GQA/acc': 2 / 3})
    anls = METRICS.build(dict(type='ANLS'))
    # 'helo world' vs 'Hello World': distance 1 over 11 characters; 'abc' vs 'xyz' below the 0.5 threshold
    anls.process(None, [_qa('helo world', ['Hello World', 'hi']), _qa('abc', ['xyz']), _qa(' Exact ', 'exact')])
    assert anls.evaluate(3) == pytest.approx({'ANLS/ANLS': (1 - 1 / 11 + 0 + 1) / 3})


def test_vqa_metrics_errors(tmp_path):
    with pytest.raises(DataError, match='no gt_answer.*ReportVQA'):
        METRICS.build(dict(type='VQAAcc')).process(None, [DataSample(pred_answer='x')])
    with pytest.raises(DataError, match='no pred_answer'):
        METRICS.build(dict(type='GQAAcc')).process(None, [DataSample(gt_answer='x')])
    report = METRICS.build(dict(type='ReportVQA', file_path=str(tmp_path / 'vqa_test.json')))
    report.process(None, [DataSample(metainfo={'question_id': 262144000}, pred_answer='yes')])
    assert report.evaluate(1) == {}
    assert json.loads((tmp_path / 'vqa_test.json').read_text()) == [{'question_id': 262144000, 'answer': 'yes'}]
    with pytest.raises(ValueError, match='must be a .json file'):
        METRICS.build(dict(type='ReportVQA', file_path='out.txt'))


def test_scienceqa_metric_by_subject_context_and_grade():
    def s(pred, gt, subject, grade, hint='', has_image=False):
        return DataSample(pred_answer=pred, gt_answer=gt, choices=['x', 'y', 'z'], subject=subject, grade=grade,
                          hint=hint, has_image=has_image)
    metric = METRICS.build(dict(type='ScienceQAMetric'))
    metric.process(None, [s('B', 1, 'natural science', 'grade2', has_image=True),   # right
                          s('A', 1, 'natural science', 'grade8', hint='a hint'),     # wrong
                          s('C', 2, 'language science', 'grade11'),                  # right, no context
                          s('E', 0, 'social science', 'grade3', has_image=True)])    # E is not an option: wrong
    assert metric.evaluate(4) == pytest.approx({
        'all_acc': 0.5, 'acc_natural': 0.5, 'acc_social': 0.0, 'acc_language': 1.0, 'acc_has_text': 0.0,
        'acc_has_image': 0.5, 'acc_no_context': 1.0, 'acc_grade_1_6': 0.5, 'acc_grade_7_12': 0.5})


# ---- grounding and retrieval
def test_visual_grounding_accuracy_at_iou_half():
    metric = METRICS.build(dict(type='VisualGroundingMetric'))
    gt = torch.tensor([[0., 0., 10., 10.]])
    preds = [[0., 0., 10., 5.], [5., 5., 15., 15.], [0., 0., 10., 10.], [20., 20., 30., 30.]]  # IoU .5, 1/7, 1, 0
    metric.process(None, [DataSample(pred_bboxes=torch.tensor(p), gt_bboxes=gt) for p in preds])
    out = metric.evaluate(4)
    assert out == pytest.approx({'visual-grounding/acc': 0.5, 'visual-grounding/miou': (0.5 + 1 / 7 + 1) / 4})
    with pytest.raises(DataError, match='no .pred_bboxes'):
        metric.process(None, [DataSample(gt_bboxes=gt)])


def test_retrieval_recall_on_coco_retrieval_test_samples():
    """i2t: each image's relevant texts are its gt_text_id; t2i: each caption's image (MMPretrain's
    BlipRetrieval sets them as gt_label). Recall counts a hit among the top k."""
    gt_text_id = [[0, 1], [2, 3], [4, 5]]
    i2t = torch.tensor([[.9, .1, .8, 0, 0, 0],    # image 0: best text 0 (its own) -> R@1 hit
                        [.9, 0, .1, .2, 0, 0],    # image 1: text 0, then 3 (its own) -> R@2 hit
                        [.5, .4, .3, .2, .1, 0]])  # image 2: its texts rank 5th and 6th
    metric = METRICS.build(dict(type='RetrievalRecall', topk=(1, 2, 5)))
    metric.process(None, [DataSample(pred_score=sc, gt_label=g) for sc, g in zip(i2t, gt_text_id)])
    assert metric.evaluate(3) == pytest.approx({'retrieval/Recall@1': 100 / 3, 'retrieval/Recall@2': 200 / 3,
                                                'retrieval/Recall@5': 100.0})
    t2i = torch.tensor([[.9, .1, 0], [.05, .8, .1], [.1, .7, .3], [.3, .6, .2], [.1, .2, .9], [.6, .3, .4]])
    metric.process(None, [DataSample(pred_score=sc, gt_label=g) for sc, g in zip(t2i, [0, 0, 1, 1, 2, 2])])
    # own image first for texts 0, 2, 3, 4; text 5's second; text 1's last
    assert metric.evaluate(6) == pytest.approx({'retrieval/Recall@1': 400 / 6, 'retrieval/Recall@2': 500 / 6,
                                                'retrieval/Recall@5': 100.0})

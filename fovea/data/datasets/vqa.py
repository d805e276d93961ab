"""Visual question answering sets in their official annotation formats (MMPretrain's classes, arguments and
sample keys): VQAv2 / OK-VQA (``COCOVQA``), VizWiz, GQA, OCR-VQA, TextVQA, Visual Genome QA and ScienceQA.

Samples carry ``img_path``, ``question`` and, where the file has answers, ``gt_answer`` (the distinct answers)
with ``gt_answer_weight`` (each one's share of the annotators' votes), which ``VQAAcc`` scores; GQA's
``gt_answer`` is its one answer (``GQAAcc``), ScienceQA's the index of the right choice (``ScienceQAMetric``).
"""
from __future__ import annotations

import os

from fovea.data.datasets._annotations import AnnotationDataset, answer_weights
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError

__all__ = ['COCOVQA', 'VizWiz', 'GQA', 'OCRVQA', 'TextVQA', 'VisualGenomeQA', 'ScienceQA']


class _VQADataset(AnnotationDataset):
    """MMPretrain's VQA signature: ``data_root``, ``data_prefix`` (the image folder), ``ann_file``."""

    def __init__(self, data_root: str, data_prefix: str, ann_file: str = '', **kwargs):
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)


@DATASETS.register_module()
class COCOVQA(_VQADataset):
    """VQAv2 and OK-VQA: the official question file and (for train/val) annotation file, matched by
    ``question_id``. The files name images by id only: images are found in ``data_root/data_prefix`` by the
    12-digit id in their file names (``COCO_val2014_000000262148.jpg``).

    Args:
        data_root / data_prefix: the image folder is ``data_root/data_prefix``.
        question_file: ``v2_OpenEnded_mscoco_*_questions.json``.
        ann_file: ``v2_mscoco_*_annotations.json`` (none for the test split).
    """

    FORMAT = ("the official VQA files: questions {'questions': [{'image_id', 'question', 'question_id'}, ...]}, "
              "annotations {'annotations': [{'question_id', 'answers': [{'answer', ...}, ...], ...}, ...]}")

    def __init__(self, data_root: str, data_prefix: str, question_file: str, ann_file: str = '', **kwargs):
        self.question_file = question_file
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        qfile = self.join(self.question_file)
        questions = self.field(self.read(qfile, expect=dict), 'questions', 'the top level', qfile, kind=list)
        answers = {}
        if self.ann_file:
            anns = self.field(self.read(expect=dict), 'annotations', 'the top level', kind=list)
            answers = {self.field(a, 'question_id', f'annotations[{i}]'): (i, a) for i, a in enumerate(anns)}
        images = self.image_index(self.data_prefix, r'\d{12}')
        out = []
        for i, q in enumerate(questions):
            where = f'questions[{i}]'
            info = dict(q)
            image_id = self.field(q, 'image_id', where, qfile)
            self.field(q, 'question', where, qfile, kind=str)
            info['img_path'] = self.item(images, image_id, where, f'an image in {self.data_prefix} with id', qfile)
            if self.ann_file:
                j, ann = self.item(answers, self.field(q, 'question_id', where, qfile), where,
                                   'an annotation with question_id', qfile)
                votes = [self.field(a, 'answer', f'annotations[{j}].answers[{k}]', kind=str)
                         for k, a in enumerate(self.field(ann, 'answers', f'annotations[{j}]', kind=list))]
                info.update({k: v for k, v in ann.items() if k != 'answers'})
                info['gt_answer'], info['gt_answer_weight'] = answer_weights(votes)
            out.append(info)
        return out


@DATASETS.register_module()
class VizWiz(_VQADataset):
    """VizWiz VQA (``train.json`` / ``val.json`` / ``test.json``): entries without ``answerable`` are test
    questions; of the others only answerable ones are kept, their answers those given with confidence 'yes'
    (not 'unanswerable'). An answerable question left with no such answer is skipped."""

    FORMAT = ("a JSON list of {'image', 'question', 'answers': [{'answer', 'answer_confidence'}, ...], "
              "'answerable'}")

    def load_data_list(self) -> list[dict]:
        out = []
        for i, ann in enumerate(self.read(expect=list)):
            where = f'entry {i}'
            info = {'question': self.field(ann, 'question', where, kind=str),
                    'img_path': os.path.join(self.data_prefix, self.field(ann, 'image', where, kind=str))}
            if 'answerable' not in ann:
                out.append(info)
                continue
            if ann['answerable'] != 1:
                continue
            votes = [self.field(a, 'answer', f'{where}.answers[{k}]', kind=str)
                     for k, a in enumerate(self.field(ann, 'answers', where, kind=list))
                     if a.get('answer_confidence') == 'yes']
            votes = [v for v in votes if v != 'unanswerable']
            if votes:
                info['gt_answer'], info['gt_answer_weight'] = answer_weights(votes)
                out.append(info)
        return out


@DATASETS.register_module()
class GQA(_VQADataset):
    """GQA in LAVIS' files (``train_balanced_questions.json``, ``testdev_balanced_questions.json``)."""

    FORMAT = "a JSON list of {'image', 'question', 'answer', 'question_id', ...}"

    def load_data_list(self) -> list[dict]:
        out = []
        for i, ann in enumerate(self.read(expect=list)):
            where = f'entry {i}'
            info = {'img_path': os.path.join(self.data_prefix, self.field(ann, 'image', where, kind=str)),
                    'question': self.field(ann, 'question', where, kind=str),
                    'gt_answer': self.field(ann, 'answer', where, kind=str)}
            if 'question_id' in ann:
                info['question_id'] = ann['question_id']
            out.append(info)
        return out


@DATASETS.register_module()
class OCRVQA(_VQADataset):
    """OCR-VQA's ``dataset.json`` (book covers): the questions of the split's books whose image is a .jpg or
    .png, images ``<data_prefix>/<key><extension of imageURL>``.

    Args:
        split: 'train', 'val' or 'test' (the file's split 1, 2, 3).
    """

    FORMAT = ("a JSON object {<key>: {'imageURL', 'questions': [...], 'answers': [...], 'title', 'authorName', "
              "'genre', 'split': 1|2|3}}")
    SPLITS = {1: 'train', 2: 'val', 3: 'test'}

    def __init__(self, data_root: str, data_prefix: str, ann_file: str, split: str, **kwargs):
        if split not in self.SPLITS.values():
            raise ConfigError(f"OCRVQA split={split!r}: use 'train', 'val' or 'test'.")
        self.split = split
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        out = []
        for key, ann in self.read(expect=dict).items():
            where = f'book {key!r}'
            if self.SPLITS.get(self.field(ann, 'split', where)) != self.split:
                continue
            url = self.field(ann, 'imageURL', where, kind=str)
            ext = os.path.splitext(url)[1]
            if ext not in ('.jpg', '.png'):
                continue
            meta = {k: self.field(ann, k, where) for k in ('title', 'authorName', 'genre')}
            questions = self.field(ann, 'questions', where, kind=list)
            answers = self.field(ann, 'answers', where, kind=list)
            if len(questions) != len(answers):
                raise self.error(self.ann_file, f'{where} has {len(questions)} questions but {len(answers)} answers')
            for q, a in zip(questions, answers):
                out.append({'img_path': os.path.join(self.data_prefix, key + ext), 'question': q, 'gt_answer': a,
                            'gt_answer_weight': [1.0], 'imageURL': url, **meta})
        return out


@DATASETS.register_module()
class TextVQA(_VQADataset):
    """TextVQA's ``TextVQA_0.5.1_{train,val,test}.json``: images ``<data_prefix>/<image_id>.jpg``."""

    FORMAT = "the official file {'data': [{'question', 'question_id', 'image_id', 'answers': [str, ...]}, ...]}"

    def load_data_list(self) -> list[dict]:
        out = []
        for i, ann in enumerate(self.field(self.read(expect=dict), 'data', 'the top level', kind=list)):
            where = f'data[{i}]'
            image_id = self.field(ann, 'image_id', where, kind=str)
            info = {'question': self.field(ann, 'question', where, kind=str),
                    'question_id': self.field(ann, 'question_id', where), 'image_id': image_id,
                    'img_path': os.path.join(self.data_prefix, image_id + '.jpg')}
            if 'answers' in ann:
                info['gt_answer'], info['gt_answer_weight'] = answer_weights(self.field(ann, 'answers', where,
                                                                                        kind=list))
            out.append(info)
        return out


@DATASETS.register_module()
class VisualGenomeQA(_VQADataset):
    """Visual Genome's ``question_answers.json``: images are found in ``data_root/data_prefix`` by the id in
    their file names (``1.jpg``). ``question_id`` is the file's ``qa_id``; ``gt_answer`` a one-answer list.
    (MMPretrain 1.2.0 reads the keys 'quesiton' and 'question_id', which the official file lacks.)"""

    FORMAT = "a JSON list of {'id', 'qas': [{'image_id', 'qa_id', 'question', 'answer', ...}, ...]}"

    def __init__(self, data_root: str, data_prefix: str = 'image', ann_file: str = 'question_answers.json',
                 **kwargs):
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        images = self.image_index(self.data_prefix, r'\d+')
        out = []
        for i, entry in enumerate(self.read(expect=list)):
            for j, qa in enumerate(self.field(entry, 'qas', f'entry {i}', kind=list)):
                where = f'entry {i}, qas[{j}]'
                image_id = self.field(qa, 'image_id', where)
                out.append({'img_path': self.item(images, image_id, where, f'an image in {self.data_prefix} with id'),
                            'question': self.field(qa, 'question', where, kind=str),
                            'question_id': qa.get('qa_id'), 'image_id': image_id,
                            'gt_answer': [self.field(qa, 'answer', where, kind=str)], 'gt_answer_weight': [1.0]})
        return out


@DATASETS.register_module()
class ScienceQA(AnnotationDataset):
    """ScienceQA's ``problems.json`` and ``pid_splits.json``: the split's problems (``image_only``: those with an
    image), images ``<data_prefix>/<problem id>/<image>``; ``gt_answer`` is the index of the right choice.

    Args:
        data_root: the root of ``split_file``, ``ann_file`` and the images.
        split: 'train', 'val', 'test', 'trainval', 'minival' or 'minitest'.
        split_file: ``pid_splits.json`` ({split: [problem id, ...]}).
        ann_file: ``problems.json``.
        image_only: keep only problems with an image.
    """

    FORMAT = ("the official files: problems {<id>: {'question', 'choices', 'answer', 'hint', 'image', 'task', "
              "'grade', 'subject', 'topic', 'category', 'skill', 'lecture', 'solution', 'split'}} and splits "
              "{<split>: [<id>, ...]}")
    SPLITS = ('train', 'val', 'test', 'trainval', 'minival', 'minitest')
    KEYS = ('question', 'choices', 'hint', 'task', 'grade', 'subject', 'topic', 'category', 'skill', 'lecture',
            'solution', 'split')

    def __init__(self, data_root: str, split: str, split_file: str, ann_file: str, image_only: bool = False,
                 data_prefix: str | dict = '', pipeline=(), **kwargs):
        if split not in self.SPLITS:
            raise ConfigError(f'ScienceQA split={split!r}: use one of {", ".join(map(repr, self.SPLITS))}.')
        self.split, self.split_file, self.image_only = split, split_file, image_only
        super().__init__(data_root=data_root, ann_file=ann_file, data_prefix=data_prefix, pipeline=pipeline,
                         **kwargs)

    def load_data_list(self) -> list[dict]:
        problems = self.read(expect=dict)
        sfile = self.join(self.split_file)
        ids = self.field(self.read(sfile, expect=dict), self.split, 'the top level', sfile, kind=list)
        out = []
        for pid in ids:
            ann = self.item(problems, pid, f'split {self.split!r}', 'problem')
            where = f'problem {pid!r}'
            image = self.field(ann, 'image', where, kind=str, default=None)
            if self.image_only and image is None:
                continue
            info = {k: self.field(ann, k, where) for k in self.KEYS}
            info.update(image_id=pid, gt_answer=self.field(ann, 'answer', where, kind=int), image_name=image,
                        img_path=os.path.join(self.data_prefix, pid, image) if image is not None else None,
                        has_image=image is not None)
            out.append(info)
        return out

"""Image captioning and image-text retrieval sets in their official annotation formats (MMPretrain's classes,
arguments and sample keys): COCO (LAVIS' Karpathy-split captions, COCO caption files), Flickr30k (Karpathy's
split file) and NoCaps (COCO-format image lists).

Captioning samples carry ``gt_caption`` (a string, or the list of reference captions in LAVIS' val/test files)
and ``image_id``. Retrieval sets give one sample per caption for training (``text``, ``text_id``, ``image_id``,
``is_matched``) and one per image for testing (``text`` and ``gt_text_id`` / ``gt_image_id`` lists), with
``img_size`` / ``text_size`` for the retrieval loop; ``image_id`` and ``text_id`` count from 0 in the order the
test samples list them, so they index the columns of an image-text score matrix.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from fovea.data.datasets._annotations import AnnotationDataset
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

__all__ = ['COCOCaption', 'Flickr30kCaption', 'NoCaps', 'COCORetrieval', 'Flickr30kRetrieval']

KARPATHY_FORMAT = ("Karpathy's split file: {'images': [{'filename', 'split', 'imgid', 'sentences': "
                   "[{'raw', 'sentid'}, ...]}, ...]}")


def _check_split(cls: type, split: str, allowed: tuple[str, ...] = ('train', 'val', 'test')) -> str:
    if split not in allowed:
        raise ConfigError(f'{cls.__name__} split={split!r}: use one of {", ".join(map(repr, allowed))}.')
    return split


class _KarpathySplit(AnnotationDataset):
    """The images of one split of a Karpathy split file, checked: ``(entry, img_path, [(raw, sentid), ...])``."""

    FORMAT = KARPATHY_FORMAT

    def __init__(self, data_root: str, data_prefix: str, ann_file: str, split: str, **kwargs):
        self.split = _check_split(type(self), split)
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def split_images(self) -> Iterator[tuple[dict, str, list[tuple[str, object]]]]:
        data = self.read(expect=dict)
        images = self.field(data, 'images', 'the top level', kind=list)
        found = False
        for i, img in enumerate(images):
            where = f'images[{i}]'
            if self.field(img, 'split', where) != self.split:
                continue
            found = True
            path = os.path.join(self.data_prefix, self.field(img, 'filename', where, kind=str))
            sentences = self.field(img, 'sentences', where, kind=list)
            texts = [(self.field(s, 'raw', f'{where}.sentences[{j}]', kind=str), s.get('sentid'))
                     for j, s in enumerate(sentences)]
            yield img, path, texts
        if not found:
            raise DataError(f'{type(self).__name__}: {self.ann_file} has no images of split {self.split!r}.')


@DATASETS.register_module()
class COCOCaption(AnnotationDataset):
    """COCO captions in LAVIS' Karpathy-split files (``coco_karpathy_{train,val,test}.json``): one sample per
    entry, ``image_id`` the digits after the last ``_`` of the file name (a string, as MMPretrain).

    Args:
        ann_file / data_root / data_prefix / pipeline: as :class:`BaseDataset` (image paths in the file are
            relative to ``data_root/data_prefix``).
    """

    FORMAT = "a JSON list of {'image': <path>, 'caption': <str or list of str>, ...}"

    def load_data_list(self) -> list[dict]:
        out = []
        for i, ann in enumerate(self.read(expect=list)):
            image = self.field(ann, 'image', f'entry {i}', kind=str)
            caption = self.field(ann, 'caption', f'entry {i}', kind=(str, list))
            out.append({'image_id': Path(image).stem.split('_')[-1], 'img_path': os.path.join(self.data_prefix, image),
                        'gt_caption': caption})
        return out


@DATASETS.register_module()
class Flickr30kCaption(_KarpathySplit):
    """Flickr30k captions from Karpathy's split file (``dataset_flickr30k.json``): one sample per caption of the
    split's images, ``image_id`` the file's ``imgid``.

    Args:
        data_root / data_prefix: images are ``data_root/data_prefix/<filename>``.
        ann_file: the split file.
        split: 'train', 'val' or 'test'.
    """

    def load_data_list(self) -> list[dict]:
        return [{'image_id': img.get('imgid'), 'img_path': path, 'gt_caption': raw}
                for img, path, texts in self.split_images() for raw, _ in texts]


@DATASETS.register_module()
class NoCaps(AnnotationDataset):
    """NoCaps images from its COCO-format file (``nocaps_val_4500_captions.json``): one sample per image
    (MMPretrain makes one per caption, ten of the same image; the ``NocapsSave`` metric keeps one caption per
    image either way), ``gt_caption`` None: the references are scored by the official server.

    Args:
        ann_file / data_root / data_prefix / pipeline: as :class:`BaseDataset`.
    """

    FORMAT = "a COCO-format file: {'images': [{'id', 'file_name'}, ...], 'annotations': [...]}"

    def load_data_list(self) -> list[dict]:
        data = self.read(expect=dict)
        images = self.field(data, 'images', 'the top level', kind=list)
        return [{'image_id': self.field(img, 'id', f'images[{i}]'), 'gt_caption': None,
                 'img_path': os.path.join(self.data_prefix, self.field(img, 'file_name', f'images[{i}]', kind=str))}
                for i, img in enumerate(images)]


class _RetrievalDataset(AnnotationDataset):
    """Per-caption training samples and per-image test samples from ``images()``: ``(image original id,
    img_path, [(caption, caption original id), ...])`` in file order."""

    def images(self) -> Iterator[tuple[object, str, list[tuple[str, object]]]]:
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        per_image, per_caption = [], []
        for image_id, (ori_id, path, texts) in enumerate(self.images()):
            entry = {'ori_id': ori_id, 'image_id': image_id, 'img_path': path, 'text': [], 'gt_text_id': [],
                     'gt_image_id': []}
            for text, text_ori_id in texts:
                text_id = len(per_caption)
                per_caption.append({'text': text, 'ori_id': text_ori_id, 'text_id': text_id, 'image_ori_id': ori_id,
                                    'image_id': image_id, 'img_path': path, 'is_matched': True})
                entry['text'].append(text)
                entry['gt_text_id'].append(text_id)
                entry['gt_image_id'].append(image_id)
            per_image.append(entry)
        self.img_size, self.text_size = len(per_image), len(per_caption)
        return per_image if self.test_mode else per_caption


@DATASETS.register_module()
class COCORetrieval(_RetrievalDataset):
    """COCO image-text retrieval from a COCO caption file (``captions_*2014.json`` or OpenMMLab's
    ``caption_karpathy_*2014.json``). Images are ``data_root/data_prefix/<folder>/<file>``, the last two parts
    of each image's ``coco_url``. Captions are numbered image by image (``text_id``), so the numbering matches
    the test samples' order even where the file does not group an image's captions together.

    Args:
        ann_file: the caption file.
        test_mode: one sample per image with all its captions (evaluation) instead of one per caption.
        data_root / data_prefix / pipeline: as :class:`BaseDataset`.
    """

    FORMAT = ("a COCO caption file: {'images': [{'id', 'coco_url'}, ...], 'annotations': [{'image_id', 'id', "
              "'caption'}, ...]}")

    def __init__(self, ann_file: str, test_mode: bool = False, data_prefix: str | dict = '', data_root: str = '',
                 pipeline=(), **kwargs):
        super().__init__(ann_file=ann_file, test_mode=test_mode, data_prefix=data_prefix, data_root=data_root,
                         pipeline=pipeline, **kwargs)

    def images(self):
        data = self.read(expect=dict)
        images: dict = {}
        for i, img in enumerate(self.field(data, 'images', 'the top level', kind=list)):
            url = self.field(img, 'coco_url', f'images[{i}]', kind=str)
            images.setdefault(self.field(img, 'id', f'images[{i}]'),
                              (os.path.join(self.data_prefix, *url.rsplit('/', 2)[-2:]), []))
        for i, ann in enumerate(self.field(data, 'annotations', 'the top level', kind=list)):
            where = f'annotations[{i}]'
            image = self.item(images, self.field(ann, 'image_id', where), where, 'image id')
            image[1].append((self.field(ann, 'caption', where, kind=str), ann.get('id')))
        return ((ori_id, path, texts) for ori_id, (path, texts) in images.items())


@DATASETS.register_module()
class Flickr30kRetrieval(_KarpathySplit, _RetrievalDataset):
    """Flickr30k image-text retrieval from Karpathy's split file (``dataset_flickr30k.json``), MMPretrain's
    arguments; samples as :class:`COCORetrieval`, original ids the file's ``imgid`` / ``sentid``.

    Args:
        data_root / data_prefix: images are ``data_root/data_prefix/<filename>``.
        ann_file: the split file.
        split: 'train', 'val' or 'test'.
        test_mode: one sample per image (evaluation).
    """

    def images(self):
        return ((img.get('imgid'), path, texts) for img, path, texts in self.split_images())

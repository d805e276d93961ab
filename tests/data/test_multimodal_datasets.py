"""The image-text datasets (captioning, retrieval, VQA, grounding, NLVR2) read small files in the official
formats, written by tests/multimodal_testutil.py on real photos, through the registry and the data loader."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from fovea.config import Config
from fovea.data.loader import build_dataloader
from fovea.registry import DATASETS
from fovea.utils.errors import ConfigError, DataError

pytest.importorskip('skimage', reason="the photos are scikit-image's samples: pip install scikit-image")
from multimodal_testutil import PHOTOS, captions, coco_name, dump, photo, write_datasets  # noqa: E402


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return write_datasets(tmp_path_factory.mktemp('multimodal'))


PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs', algorithm_keys=['gt_caption'])]


def build(root, **cfg):
    """The dataset at ``root/<sub>``; indexing it gives the decoded photo and the caption."""
    sub = cfg.pop('sub')
    return DATASETS.build(dict(dict(pipeline=PIPELINE), **cfg, data_root=str(root / sub)))


def loader_batch(dataset_cfg: dict, keys, meta=(), batch_size: int = 2, num_workers: int = 0):
    """One batch through a config (Config round trip), the registry and the loader, images resized to 24 px."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(24, 24)),
                dict(type='PackInputs', algorithm_keys=list(keys), meta_keys=list(meta))]
    cfg = Config(dict(loader=dict(batch_size=batch_size, num_workers=num_workers,
                                  dataset=dict(dataset_cfg, pipeline=pipeline))))
    return next(iter(build_dataloader(cfg['loader'], seed=0)))


def test_coco_caption(root):
    train = build(root, type='COCOCaption', sub='coco', ann_file='annotations/coco_karpathy_train.json')
    assert len(train) == 6
    first = train[0]
    assert first['data_samples'].gt_caption == 'A photo of an astronaut.'
    # the photo itself, decoded (a 48x40 JPEG: within a few levels; another photo is ~50 off)
    assert np.abs(first['inputs'].permute(1, 2, 0).numpy().astype(int) - photo(1)).mean() < 10
    assert train.data_list[0]['image_id'] == '000000000001'
    val = build(root, type='COCOCaption', sub='coco', ann_file='annotations/coco_karpathy_val.json')
    assert val.data_list[2]['gt_caption'] == captions(4) and val.data_list[2]['img_path'].endswith(coco_name('val2014', 4))
    batch = loader_batch(dict(type='COCOCaption', data_root=str(root / 'coco'),
                              ann_file='annotations/coco_karpathy_train.json'), ['gt_caption'], ['image_id'])
    assert batch['inputs'].shape == (2, 3, 24, 24)
    assert [s.gt_caption for s in batch['data_samples']] == captions(1)
    assert batch['data_samples'][1].image_id == '000000000001'


def test_flickr30k_caption_and_retrieval(root):
    val = build(root, type='Flickr30kCaption', sub='flickr30k', data_prefix='images',
                ann_file='annotations/dataset_flickr30k.json', split='val')
    assert [(d['image_id'], d['gt_caption']) for d in val.data_list] == [(2, c) for c in captions(2)] + \
        [(3, c) for c in captions(3)]
    assert val.data_list[0]['img_path'] == str(root / 'flickr30k' / 'images' / '1002.jpg')
    test = build(root, type='Flickr30kRetrieval', sub='flickr30k', data_prefix='images',
                 ann_file='annotations/dataset_flickr30k.json', split='val', test_mode=True)
    assert (test.img_size, test.text_size) == (2, 4)
    assert [(d['ori_id'], d['gt_text_id'], d['gt_image_id']) for d in test.data_list] == [(2, [0, 1], [0, 0]),
                                                                                         (3, [2, 3], [1, 1])]
    with pytest.raises(ConfigError, match="split='dev'"):
        build(root, type='Flickr30kCaption', sub='flickr30k', data_prefix='images',
              ann_file='annotations/dataset_flickr30k.json', split='dev')


def test_coco_retrieval_numbers_captions_in_test_order(root):
    """COCO's caption files interleave images' captions; text ids follow the per-image test order, so that
    gt_text_id indexes the text axis of the score matrix the retrieval loop builds from the test samples."""
    kw = dict(type='COCORetrieval', sub='coco', ann_file='annotations/caption_karpathy_val2014.json')
    train, test = build(root, **kw), build(root, test_mode=True, **kw)
    assert (test.img_size, test.text_size) == (3, 6) and len(train) == 6 and len(test) == 3
    flat = [t for d in test.data_list for t in d['text']]
    assert [d['gt_text_id'] for d in test.data_list] == [[0, 1], [2, 3], [4, 5]]
    assert all(flat[d['text_id']] == d['text'] for d in train.data_list)
    assert {(d['text'], d['image_id'], d['image_ori_id'], d['is_matched']) for d in train.data_list} == \
        {(c, k, i, True) for k, i in enumerate((2, 3, 4)) for c in captions(i)}
    assert test.data_list[2]['img_path'] == os.path.join(str(root / 'coco'), 'val2014', coco_name('val2014', 4))
    batch = loader_batch(dict(type='COCORetrieval', data_root=str(root / 'coco'), test_mode=True,
                              ann_file='annotations/caption_karpathy_val2014.json'),
                         ['text', 'gt_text_id', 'gt_image_id'], ['image_id'], batch_size=3, num_workers=1)
    samples = batch['data_samples']
    assert [s.text for s in samples] == [captions(i) for i in (2, 3, 4)]
    assert [list(map(int, s.gt_text_id)) for s in samples] == [[0, 1], [2, 3], [4, 5]]


def test_coco_vqa_matches_questions_to_annotations_by_id(root):
    ds = build(root, type='COCOVQA', sub='coco', data_prefix='val2014',
               question_file='annotations/v2_OpenEnded_mscoco_val2014_questions.json',
               ann_file='annotations/v2_mscoco_val2014_annotations.json')
    info = {d['question_id']: d for d in ds.data_list}
    assert sorted(info) == [20, 30, 40]
    cup = info[20]
    assert cup['gt_answer'] == ['coffee', 'nothing'] and cup['gt_answer_weight'] == pytest.approx([0.7, 0.3])
    assert cup['img_path'].endswith(coco_name('val2014', 2)) and cup['multiple_choice_answer'] == 'coffee'
    test = build(root, type='COCOVQA', sub='coco', data_prefix='test2015',
                 question_file='annotations/v2_OpenEnded_mscoco_test2015_questions.json')
    assert len(test) == 1 and 'gt_answer' not in test.data_list[0]
    batch = loader_batch(dict(type='COCOVQA', data_root=str(root / 'coco'), data_prefix='val2014',
                              question_file='annotations/v2_OpenEnded_mscoco_val2014_questions.json',
                              ann_file='annotations/v2_mscoco_val2014_annotations.json'),
                         ['question', 'gt_answer', 'gt_answer_weight'], ['question_id'], batch_size=3, num_workers=1)
    samples = batch['data_samples']
    assert [s.question_id for s in samples] == [40, 30, 20]
    assert samples[0].gt_answer == ['rocket', 'nothing']
    assert [float(w) for w in samples[2].gt_answer_weight] == pytest.approx([0.7, 0.3])


def test_refcoco_boxes_and_splits(root):
    kw = dict(type='RefCOCO', sub='coco', data_prefix='train2014', ann_file='refcoco/instances.json',
              split_file='refcoco/refs(unc).p')
    train = build(root, **kw)
    assert [d['text'] for d in train.data_list] == ['the astronaut', 'man in a suit']
    np.testing.assert_array_equal(train.data_list[0]['gt_bboxes'], [[4, 6, 24, 36]])  # x y w h -> x1 y1 x2 y2
    assert train.data_list[0]['gt_bboxes'].dtype == np.float32 and train.data_list[0]['ann_id'] == 7
    test_a = build(root, split='testA', **kw)
    assert [(d['text'], d['image_id']) for d in test_a.data_list] == [('the cat', 3)]
    with pytest.raises(DataError, match="no referring expressions of split 'testB'"):
        build(root, split='testB', **kw)
    kw.pop('sub')
    batch = loader_batch(dict(kw, data_root=str(root / 'coco'), split='val'), ['text', 'gt_bboxes'], ['image_id'],
                         batch_size=1)
    assert batch['data_samples'][0].text == 'the cup'
    # x y w h (10, 5, 30, 25) on the 40x60 photo, resized with it to 24x24: x by 0.4, y by 0.6
    np.testing.assert_allclose(np.asarray(batch['data_samples'][0].gt_bboxes), [[4, 3, 16, 18]], rtol=1e-6)


def test_refcoco_refs_pickle_that_names_code_is_refused(root, tmp_path):
    """A refs file that would call a function when unpickled is refused before anything runs."""
    marker = tmp_path / 'ran'

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    (tmp_path / 'refcoco').mkdir()
    (tmp_path / 'refcoco' / 'instances.json').write_text((root / 'coco' / 'refcoco' / 'instances.json').read_text())
    (tmp_path / 'refcoco' / 'refs(unc).p').write_bytes(pickle.dumps([{'split': 'train', 'x': Evil()}], protocol=2))
    with pytest.raises(DataError, match=r"refs\(unc\)\.p.*(posix|os)\.system.*did not run"):
        DATASETS.build(dict(type='RefCOCO', data_root=str(tmp_path), data_prefix='', ann_file='refcoco/instances.json',
                            split_file='refcoco/refs(unc).p'))
    assert not marker.exists()


def test_nlvr2_image_pairs(root):
    ds = build(root, type='NLVR2', sub='nlvr2', ann_file='dev.json', data_prefix='dev')
    assert [d['gt_label'] for d in ds.data_list] == [1, 0]
    assert [os.path.basename(p) for p in ds.data_list[1]['img_path']] == ['dev-2-1-img0.png', 'dev-2-1-img1.png']


def test_nocaps_one_sample_per_image(root):
    ds = build(root, type='NoCaps', sub='nocaps', data_prefix=dict(img_path='images/'),
               ann_file='annotations/nocaps_val_4500_captions.json')
    assert [(d['image_id'], d['gt_caption']) for d in ds.data_list] == [(0, None), (1, None)]
    assert ds[1]['inputs'].shape[-2:] == PHOTOS[2][2]


def test_ocrvqa_gqa_textvqa_visual_genome_vizwiz(root):
    ocr = build(root, type='OCRVQA', sub='ocrvqa', data_prefix='images', ann_file='annotations/dataset.json',
                split='train')  # b1 (jpg) only: b3 is a .gif, b2/b4 other splits
    assert [(os.path.basename(d['img_path']), d['question'], d['gt_answer']) for d in ocr.data_list] == [
        ('b1.jpg', 'Who wrote this book?', 'Author 1'), ('b1.jpg', 'What is the genre of this book?', 'Calendars')]
    assert ocr.data_list[0]['gt_answer_weight'] == [1.0] and ocr.data_list[0]['title'] == 'Book 1'
    gqa = build(root, type='GQA', sub='gqa', data_prefix='images', ann_file='annotations/testdev_balanced_questions.json')
    assert [(d['gt_answer'], d['question_id']) for d in gqa.data_list] == [('astronaut', 's1'), ('no', 's2')]
    text = build(root, type='TextVQA', sub='textvqa', data_prefix='train_images', ann_file='TextVQA_0.5.1_val.json')
    assert text.data_list[0]['gt_answer'] == ['usa', 'united states']
    assert text.data_list[0]['gt_answer_weight'] == pytest.approx([0.6, 0.4])
    assert text[0]['inputs'].shape[-2:] == PHOTOS[4][2]
    vg = build(root, type='VisualGenomeQA', sub='visual_genome')
    assert [(d['question_id'], d['image_id'], d['gt_answer']) for d in vg.data_list] == [
        (986768, 1, ['A space suit.']), (5, 2, ['Coffee.']), (6, 2, ['White.'])]
    assert vg.data_list[1]['img_path'].endswith(os.path.join('image', '2.jpg'))
    viz = build(root, type='VizWiz', sub='vizwiz', data_prefix='', ann_file='Annotations/val.json')
    # the unanswerable question is dropped; 'maybe' and 'unanswerable' votes do not count
    assert viz.data_list[0]['gt_answer'] == ['coffee', 'cup']
    assert viz.data_list[0]['gt_answer_weight'] == pytest.approx([0.8, 0.2])
    assert 'gt_answer' not in viz.data_list[1] and len(viz) == 2


def test_scienceqa(root):
    ds = build(root, type='ScienceQA', sub='scienceqa', split='val', split_file='pid_splits.json',
               ann_file='problems.json', data_prefix=dict(img_path='images'))
    assert [(d['image_id'], d['gt_answer'], d['has_image']) for d in ds.data_list] == [('8', 0, False), ('7', 1, True)]
    assert ds.data_list[1]['img_path'] == os.path.join(str(root / 'scienceqa'), 'images', '7', 'image.png')
    assert ds.data_list[0]['img_path'] is None and ds.data_list[0]['hint'] == 'Say them aloud.'
    only = build(root, type='ScienceQA', sub='scienceqa', split='val', split_file='pid_splits.json',
                 ann_file='problems.json', data_prefix=dict(img_path='images'), image_only=True)
    assert [d['image_id'] for d in only.data_list] == ['7']


@pytest.mark.parametrize('case', [
    # (dataset config, file content, the file's name, what the message must name)
    (dict(type='COCOCaption'), [{'image': 'a.jpg', 'caption': 'x'}, {'img': 'b.jpg', 'caption': 'y'}],
     'ann.json', r"entry 1 has no 'image' \(it has \['caption', 'img'\]\)"),
    (dict(type='COCOCaption'), {'images': []}, 'ann.json', 'holds a dict, not a list'),
    (dict(type='Flickr30kRetrieval', data_prefix='', split='test'),
     {'images': [{'filename': 'a.jpg', 'split': 'test', 'sentences': [{'sentid': 1}]}]}, 'ann.json',
     r"images\[0\]\.sentences\[0\] has no 'raw'.*Karpathy"),
    (dict(type='COCORetrieval'), {'images': [{'id': 1, 'coco_url': 'http://x/val2014/a.jpg'}],
                                  'annotations': [{'image_id': 2, 'id': 1, 'caption': 'x'}]}, 'ann.json',
     r'annotations\[0\] refers to image id 2'),
    (dict(type='GQA', data_prefix=''), [{'image': 'a.jpg', 'question': 'q?', 'answer': 3}], 'ann.json',
     r"entry 0: 'answer' is 3 \(int\), not a str"),
    (dict(type='NLVR2'), [{'identifier': 'dev-1-0-0', 'sentence': 's', 'label': 'yes'}], 'ann.jsonl',
     r"line 1: label 'yes' is not 'True' or 'False'"),
    (dict(type='TextVQA', data_prefix=''), '{"data": [', 'ann.json', 'not JSON'),
])
def test_wrong_format_names_file_and_entry(tmp_path, case):
    cfg, content, name, message = case
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        dump(path, content, lines=name.endswith('.jsonl'))
    with pytest.raises(DataError, match=message) as info:
        DATASETS.build(dict(cfg, data_root=str(tmp_path), ann_file=name))
    assert str(path) in str(info.value)


def test_missing_question_file_and_image(root, tmp_path):
    with pytest.raises(DataError, match=r"COCOVQA: annotation file '.*nope\.json': no such file"):
        build(root, type='COCOVQA', sub='coco', data_prefix='val2014', question_file='nope.json')
    dump(tmp_path / 'q.json', {'questions': [{'image_id': 99, 'question': 'q?', 'question_id': 1}]})
    with pytest.raises(DataError, match=r'questions\[0\] refers to an image in .*val2014 with id 99'):
        DATASETS.build(dict(type='COCOVQA', data_root=str(root / 'coco'), data_prefix='val2014',
                            question_file=str(tmp_path / 'q.json')))

"""Small image-text data sets in the official annotation formats, on real photos (scikit-image's samples).

``write_datasets(root)`` lays them out as MMPretrain's dataset configs expect under their ``data_root``s
(``root/coco``, ``root/flickr30k``, ``root/nlvr2``, ...), so a config needs only its ``data_root`` replaced.
``PHOTOS`` names the photo behind each image id; captions, questions and answers say what is in it.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

# image id -> (scikit-image sample, what it shows, (height, width) written)
PHOTOS = {1: ('astronaut', 'an astronaut', (48, 40)), 2: ('coffee', 'a cup of coffee', (40, 60)),
          3: ('chelsea', 'a cat', (36, 54)), 4: ('rocket', 'a rocket', (42, 63))}


def photo(image_id: int) -> np.ndarray:
    from PIL import Image
    from skimage import data
    name, _, (h, w) = PHOTOS[image_id]
    return np.asarray(Image.fromarray(getattr(data, name)()[..., :3]).resize((w, h)))


def save(path: Path, image_id: int) -> Path:
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo(image_id)).save(path, quality=90)
    return path


def dump(path: Path, value, lines: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(json.dumps(v) for v in value) + '\n' if lines else json.dumps(value))
    return path


def coco_name(split: str, image_id: int) -> str:
    return f'COCO_{split}_{image_id:012d}.jpg'


def captions(image_id: int) -> list[str]:
    what = PHOTOS[image_id][1]
    return [f'A photo of {what}.', f'{what.capitalize()},  in close-up!']


def write_coco(root: Path) -> None:
    """COCO 2014 images (ids 1-3 train2014, 2-4 val2014, 4 test2015), LAVIS caption files, OpenMMLab's
    retrieval caption files, VQAv2/OK-VQA question and annotation files, RefCOCO."""
    splits = {'train2014': (1, 2, 3), 'val2014': (2, 3, 4), 'test2015': (4,)}
    for split, ids in splits.items():
        for i in ids:
            save(root / split / coco_name(split, i), i)
    ann = root / 'annotations'
    dump(ann / 'coco_karpathy_train.json', [{'image': f'train2014/{coco_name("train2014", i)}', 'caption': c,
                                             'image_id': f'coco_{i}'} for i in splits['train2014'] for c in captions(i)])
    dump(ann / 'coco_karpathy_val.json', [{'image': f'val2014/{coco_name("val2014", i)}', 'caption': captions(i),
                                           'image_id': f'coco_{i}'} for i in splits['val2014']])
    dump(ann / 'coco_karpathy_val_gt.json', caption_gt({i: captions(i) for i in splits['val2014']}))
    for split in ('train2014', 'val2014'):
        ids = splits[split]
        images = [{'id': i, 'coco_url': f'http://images.cocodataset.org/{split}/{coco_name(split, i)}',
                   'file_name': coco_name(split, i)} for i in ids]
        # captions interleaved across images, as in COCO's own files
        anns = [{'image_id': i, 'id': 100 * i + k, 'caption': captions(i)[k]} for k in range(2) for i in ids]
        dump(ann / f'caption_karpathy_{split}.json', {'images': images, 'annotations': anns})
    for prefix, name in (('v2_OpenEnded_mscoco', 'v2_mscoco'), ('okvqa_OpenEnded_mscoco', 'okvqa_mscoco')):
        for split in ('train2014', 'val2014', 'test2015'):
            qs, anns = [], []
            for i in splits[split]:
                what = PHOTOS[i][1].split()[-1]
                qs.append({'image_id': i, 'question': 'What is in the picture?', 'question_id': 10 * i})
                votes = [what] * 7 + ['nothing'] * 3
                anns.append({'question_id': 10 * i, 'image_id': i, 'question_type': 'what is',
                             'answer_type': 'other', 'multiple_choice_answer': what,
                             'answers': [{'answer': a, 'answer_confidence': 'yes', 'answer_id': k + 1}
                                         for k, a in enumerate(votes)]})
            dump(ann / f'{prefix}_{split}_questions.json', {'questions': qs[::-1]})  # order differs from anns
            if split != 'test2015':
                dump(ann / f'{name}_{split}_annotations.json', {'annotations': anns})
    write_refcoco(root / 'refcoco')


def caption_gt(refs: dict[int, list[str]]) -> dict:
    """A COCO-format caption ground-truth file (what the COCOCaption metric's ``ann_file`` holds)."""
    return {'images': [{'id': i} for i in refs], 'info': {}, 'licenses': [], 'type': 'captions',
            'annotations': [{'image_id': i, 'id': 10 * i + k, 'caption': c} for i, cs in refs.items()
                            for k, c in enumerate(cs)]}


def write_refcoco(root: Path) -> None:
    """instances.json (train2014 images 1-3) and refs(unc).p: ref 0 (train), 1 (val), 2 (testA)."""
    images = [{'id': i, 'file_name': coco_name('train2014', i), 'height': PHOTOS[i][2][0],
               'width': PHOTOS[i][2][1]} for i in (1, 2, 3)]
    anns = [{'id': 7, 'image_id': 1, 'bbox': [4.0, 6.0, 20.0, 30.0], 'category_id': 1},
            {'id': 8, 'image_id': 2, 'bbox': [10.0, 5.0, 30.0, 25.0], 'category_id': 2},
            {'id': 9, 'image_id': 3, 'bbox': [0.0, 0.0, 27.0, 18.0], 'category_id': 3}]
    dump(root / 'instances.json', {'images': images, 'annotations': anns, 'categories': []})
    refs = [{'ref_id': 0, 'ann_id': 7, 'image_id': 1, 'split': 'train', 'category_id': 1,
             'sentences': [{'sent': 'the astronaut', 'tokens': ['the', 'astronaut']}, {'sent': 'man in a suit'}]},
            {'ref_id': 1, 'ann_id': 8, 'image_id': 2, 'split': 'val', 'sentences': [{'sent': 'the cup'}]},
            {'ref_id': 2, 'ann_id': 9, 'image_id': 3, 'split': 'testA', 'sentences': [{'sent': 'the cat'}]}]
    (root / 'refs(unc).p').write_bytes(pickle.dumps(refs, protocol=2))


def write_flickr30k(root: Path) -> None:
    """images/<id>.jpg and Karpathy's dataset_flickr30k.json: image 1 train, 2-3 val, 4 test."""
    split = {1: 'train', 2: 'val', 3: 'val', 4: 'test'}
    images = []
    for i in PHOTOS:
        save(root / 'images' / f'{1000 + i}.jpg', i)
        images.append({'filename': f'{1000 + i}.jpg', 'imgid': i, 'split': split[i], 'sentids': [2 * i, 2 * i + 1],
                       'sentences': [{'raw': c, 'imgid': i, 'sentid': 2 * i + k} for k, c in enumerate(captions(i))]})
    dump(root / 'annotations' / 'dataset_flickr30k.json', {'images': images, 'dataset': 'flickr30k'})


def write_nlvr2(root: Path) -> None:
    """dev.json: 'dev-1-0-0' (astronaut, coffee) True; 'dev-2-1-1' (cat, rocket) False; PNG images."""
    from PIL import Image
    for stem, ids in (('dev-1-0', (1, 2)), ('dev-2-1', (3, 4))):
        for k, i in enumerate(ids):
            (root / 'dev').mkdir(parents=True, exist_ok=True)
            Image.fromarray(photo(i)).save(root / 'dev' / f'{stem}-img{k}.png')
    dump(root / 'dev.json', [{'identifier': 'dev-1-0-0', 'sentence': 'The left image shows an astronaut.',
                              'label': 'True', 'directory': 1},
                             {'identifier': 'dev-2-1-1', 'sentence': 'Both images show cats.', 'label': 'False',
                              'directory': 2}], lines=True)


def write_nocaps(root: Path) -> None:
    images = [{'id': k, 'file_name': f'{k:04d}.jpg', 'open_images_id': f'oi{k}'} for k in (0, 1)]
    for k in (0, 1):
        save(root / 'images' / f'{k:04d}.jpg', k + 1)
    anns = [{'image_id': k, 'id': 10 * k + j, 'caption': c} for k in (0, 1) for j, c in enumerate(captions(k + 1))]
    dump(root / 'annotations' / 'nocaps_val_4500_captions.json', {'images': images, 'annotations': anns})


def write_ocrvqa(root: Path) -> None:
    books = {'b1': ('http://x/61Y5.jpg', 1), 'b2': ('http://x/71A.png', 2), 'b3': ('http://x/81B.gif', 1),
             'b4': ('http://x/91C.jpg', 3)}
    data = {}
    for n, (key, (url, split)) in enumerate(books.items(), 1):
        if not url.endswith('.gif'):
            save(root / 'images' / f'{key}{url[-4:]}', n)
        data[key] = {'imageURL': url, 'questions': ['Who wrote this book?', 'What is the genre of this book?'],
                     'answers': [f'Author {n}', 'Calendars'], 'title': f'Book {n}', 'authorName': f'Author {n}',
                     'genre': 'Calendars', 'split': split}
    dump(root / 'annotations' / 'dataset.json', data)


def write_gqa(root: Path) -> None:
    for i in (1, 3):
        save(root / 'images' / f'n{i}.jpg', i)
    for name in ('train_balanced_questions.json', 'testdev_balanced_questions.json'):
        dump(root / 'annotations' / name, [{'image': 'n1.jpg', 'question': 'Who is this?', 'answer': 'astronaut',
                                            'question_id': 's1'},
                                           {'image': 'n3.jpg', 'question': 'Is it a dog?', 'answer': 'no',
                                            'question_id': 's2'}])


def write_visual_genome(root: Path) -> None:
    for i in (1, 2):
        save(root / 'image' / f'{i}.jpg', i)
    dump(root / 'question_answers.json', [
        {'id': 1, 'qas': [{'a_objects': [], 'question': 'What is the man wearing?', 'image_id': 1, 'qa_id': 986768,
                           'answer': 'A space suit.', 'q_objects': []}]},
        {'id': 2, 'qas': [{'question': 'What is in the cup?', 'image_id': 2, 'qa_id': 5, 'answer': 'Coffee.'},
                          {'question': 'What colour is the cup?', 'image_id': 2, 'qa_id': 6, 'answer': 'White.'}]}])


def write_vizwiz(root: Path) -> None:
    for i in (1, 2, 3):
        save(root / f'VizWiz_val_{i:08d}.jpg', i)
    votes = [('coffee', 'yes')] * 4 + [('tea', 'maybe'), ('unanswerable', 'yes'), ('cup', 'yes')]
    dump(root / 'Annotations' / 'val.json', [
        {'image': 'VizWiz_val_00000002.jpg', 'question': 'What is this?', 'answerable': 1, 'answer_type': 'other',
         'answers': [{'answer': a, 'answer_confidence': c} for a, c in votes]},
        {'image': 'VizWiz_val_00000001.jpg', 'question': 'Can you read it?', 'answerable': 0,
         'answers': [{'answer': 'unanswerable', 'answer_confidence': 'yes'}]},
        {'image': 'VizWiz_val_00000003.jpg', 'question': 'What animal is it?'}])


def write_textvqa(root: Path) -> None:
    save(root / 'train_images' / '003a8ae2ef43b901.jpg', 4)
    dump(root / 'TextVQA_0.5.1_val.json', {'dataset_name': 'textvqa', 'data': [
        {'question': 'what is written on the rocket?', 'image_id': '003a8ae2ef43b901', 'question_id': 34602,
         'answers': ['usa'] * 6 + ['united states'] * 4, 'set_name': 'val'}]})


def write_scienceqa(root: Path) -> None:
    save(root / 'images' / '7' / 'image.png', 3)
    base = {'hint': '', 'task': 'closed choice', 'topic': 'biology', 'category': 'animals', 'skill': 'x',
            'lecture': '', 'solution': '', 'split': 'val'}
    problems = {
        '7': {**base, 'question': 'Which animal is shown?', 'choices': ['dog', 'cat'], 'answer': 1, 'image': 'image.png',
              'grade': 'grade2', 'subject': 'natural science'},
        '8': {**base, 'question': 'Which word rhymes with cat?', 'choices': ['hat', 'dog', 'sun'], 'answer': 0,
              'image': None, 'grade': 'grade8', 'subject': 'language science', 'hint': 'Say them aloud.'}}
    dump(root / 'problems.json', problems)
    dump(root / 'pid_splits.json', {'val': ['8', '7'], 'train': []})


WRITERS = {'coco': write_coco, 'flickr30k': write_flickr30k, 'nlvr2': write_nlvr2, 'nocaps': write_nocaps,
           'ocrvqa': write_ocrvqa, 'gqa': write_gqa, 'visual_genome': write_visual_genome, 'vizwiz': write_vizwiz,
           'textvqa': write_textvqa, 'scienceqa': write_scienceqa}


def write_datasets(root: Path) -> Path:
    for name, writer in WRITERS.items():
        writer(root / name)
    return root

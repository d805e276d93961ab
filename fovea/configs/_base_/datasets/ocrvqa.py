# OCR-VQA (MMPretrain's ocrvqa.py): dataset.json's book covers, VQAv2's loaders and statistics; questions and
# answers are cleaned
_base_ = ['coco_vqa.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=384, interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight'], meta_keys=[]),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 480), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight'], meta_keys=[]),
]

_ocrvqa = dict(_delete_=True, type='OCRVQA', data_root='data/ocrvqa', data_prefix='images',
               ann_file='annotations/dataset.json')
train_dataloader = dict(dataset=dict(_ocrvqa, split='train', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(_ocrvqa, split='val', pipeline=test_pipeline))
test_dataloader = dict(batch_size=64, dataset=dict(_ocrvqa, split='test', pipeline=test_pipeline))
test_evaluator = dict(_delete_=True, type='VQAAcc')

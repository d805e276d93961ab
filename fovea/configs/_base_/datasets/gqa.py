# GQA (MMPretrain's gqa.py): LAVIS' balanced question files; the training loader uses the test pipeline, as
# MMPretrain's does
_base_ = ['coco_vqa.py']

_gqa = dict(_delete_=True, type='GQA', data_root='data/gqa', data_prefix='images',
            pipeline={{_base_.test_pipeline}})
train_dataloader = dict(dataset=dict(_gqa, ann_file='annotations/train_balanced_questions.json'),
                        sampler=dict(shuffle=False))
val_dataloader = dict(dataset=dict(_gqa, ann_file='annotations/testdev_balanced_questions.json'))
val_evaluator = dict(type='GQAAcc')

test_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=8,
    dataset=dict(_gqa, ann_file='annotations/testdev_balanced_questions.json'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    persistent_workers=True,
)
test_evaluator = dict(_delete_=True, type='GQAAcc')

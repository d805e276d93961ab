# CUB-200-2011 as cub_bs8_448.py, at 384 px crops of 510 px resized images.
_base_ = 'cub_bs8_448.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=510),
    dict(type='RandomCrop', crop_size=384),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=510),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

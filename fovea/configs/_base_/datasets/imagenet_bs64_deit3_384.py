# The Swin 384 px recipe with DeiT III's evaluation: a 384 px short-edge resize and 384 px centre crop
_base_ = ['./imagenet_bs64_swin_384.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=384, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

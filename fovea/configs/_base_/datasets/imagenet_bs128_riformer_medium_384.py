# RIFormer M36/M48 at 384 px: the small 384 px recipe with a 404 px resize, 16 per GPU in evaluation
_base_ = ['./imagenet_bs128_riformer_small_384.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=404, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=384),
    dict(type='PackInputs'),
]
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# PoolFormer/RIFormer M36 and M48: the small recipe with a 236 px resize before the 224 px crop
_base_ = ['./imagenet_bs128_poolformer_small_224.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=236, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# The Swin ImageNet recipe (RandAugment, random erasing) with 128 images per GPU and a 248 px resize
# before the 224 px centre crop (PoolFormer S12-S36 and RIFormer S12-S36)
_base_ = ['./imagenet_bs64_swin_224.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

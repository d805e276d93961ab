# EfficientNetV2-S on ImageNet at 384 px, MMPretrain's recipe (weights converted from the TensorFlow ones, which
# take pixels scaled to [-1, 1]): EfficientNet crops, the SGD schedule of imagenet_bs256.
_base_ = ['../_base_/models/efficientnet_v2/efficientnetv2_s.py', '../_base_/datasets/imagenet_bs32.py',
          '../_base_/schedules/imagenet_bs256.py', '../_base_/default_runtime.py']

data_preprocessor = dict(num_classes=1000, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetRandomCrop', scale=300, crop_padding=0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetCenterCrop', crop_size=384, crop_padding=0),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# Swin V2-B pre-training on ImageNet-21k (21,841 classes) at 192 px, window 12 (6 in the last stage). MMPretrain's
# file edits a test_pipeline its ImageNet-21k base does not have and fails to load; this is the recipe it means.
_base_ = ['../_base_/models/swin_transformer_v2/tiny_256.py', '../_base_/datasets/imagenet21k_bs128.py',
          '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py']

model = dict(backbone=dict(arch='base', drop_path_rate=0.5, img_size=192, window_size=[12, 12, 12, 6]),
             head=dict(in_channels=1024, num_classes=21841))
data_preprocessor = dict(num_classes=21841)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# fovea's own: Colorization (Zhang et al. 2016 style) on the CIFAR-10 JPEGs with a 1-channel CIFAR
# ResNet-18 (last stage at stride 1: ab predicted on an 8x8 grid of 4 px cells): the Lab lightness in,
# ab out as a class-rebalanced classification over 484 10-unit ab bins (lambda 0.5; mode='regression'
# for plain L2). kNN (every 10 epochs) reads the L channel of the whole 32 px images too.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[122.0], std=[62.0])   # L * 2.55 on CIFAR-10
model = dict(
    type='Colorization',
    backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, strides=(1, 2, 2, 1)),
    head=dict(type='ColorizationHead', in_channels=512, hid_channels=256, mode='classification'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='LabColorization'),
    dict(type='PackInputs', algorithm_keys=['gt_ab']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
lightness_pipeline = [dict(type='LoadImageFromFile'), dict(type='LabColorization'), dict(type='PackInputs')]
knn_cfg = dict(train_dataloader=dict(dataset=dict(pipeline=lightness_pipeline)),
               val_dataloader=dict(dataset=dict(pipeline=lightness_pipeline)))

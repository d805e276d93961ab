# fovea's own: RotationPred (Gidaris et al. 2018) on the CIFAR-10 JPEGs with a CIFAR ResNet-18: each
# image as 4 views rotated by 0/90/180/270 degrees (a batch of 256 images is 1024 views), 4-way
# classification of the rotation, SGD + warmup + cosine for 100 epochs, kNN top-1 every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='RotationPred',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=512, loss=dict(type='CrossEntropyLoss')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomRotationWithLabels'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# EfficientNetV2-S on ImageNet-21k (21,843 classes), MMPretrain's recipe: pixels scaled to [-1, 1], EfficientNet
# crops at 224 px, SGD at lr 4e-3 with gradients clipped at norm 5.
_base_ = ['../_base_/models/efficientnet_v2/efficientnetv2_s.py', '../_base_/datasets/imagenet_bs32.py',
          '../_base_/schedules/imagenet_bs256.py', '../_base_/default_runtime.py']

model = dict(head=dict(num_classes=21843))
data_preprocessor = dict(num_classes=21843, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)
optim_wrapper = dict(optimizer=dict(lr=4e-3), clip_grad=dict(max_norm=5.0))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetRandomCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='EfficientNetCenterCrop', crop_size=224, crop_padding=0),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

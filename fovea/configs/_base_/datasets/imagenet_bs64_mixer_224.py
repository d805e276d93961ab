# ImageNet for MLP-Mixer (MMPretrain's imagenet_bs64_mixer_224): pixels scaled to [-1, 1] as the JAX
# checkpoints expect, bicubic resize for evaluation.
_base_ = 'imagenet_bs64.py'

data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

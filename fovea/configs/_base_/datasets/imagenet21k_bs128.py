# ImageNet-21k for pre-training (MMPretrain's imagenet21k_bs128): training split only, 224 px crops
dataset_type = 'ImageNet21k'
data_preprocessor = dict(
    num_classes=21842,
    # RGB mean/std on the 0-255 scale
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # MMPretrain decodes BGR and converts; fovea decodes RGB and keeps it
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=5,
    dataset=dict(type=dataset_type, data_root='data/imagenet21k', split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

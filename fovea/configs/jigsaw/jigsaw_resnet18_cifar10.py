# fovea's own: Jigsaw puzzles (Noroozi & Favaro 2016) on the CIFAR-10 JPEGs with a CIFAR ResNet-18 as
# the shared tile encoder. Images are upscaled to 72 px and cropped to 64 (the paper: a 225 px crop),
# cut into a 3x3 grid of 21 px cells holding 16 px jittered tiles (the paper: 75 px cells, 64 px
# tiles) and shuffled by one of 100 permutations at least 6 apart in Hamming distance (greedy max-min,
# seed 0); the 9 tile features, concatenated in tile order, are classified 100 ways.
# SGD + warmup + cosine for 100 epochs; kNN top-1 (on the whole 32 px test images) every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
num_permutations = 100
model = dict(
    type='Jigsaw',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='NonLinearNeck', in_channels=9 * 512, hid_channels=1024, out_channels=1024, num_layers=2,
              with_bias=True, norm_cfg=dict(type='BN')),
    head=dict(type='LinearClsHead', num_classes=num_permutations, in_channels=1024,
              loss=dict(type='CrossEntropyLoss')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=72),
    dict(type='RandomCrop', crop_size=64),
    dict(type='RandomGrayscale', prob=0.3, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomJigsawWithLabels', num_permutations=num_permutations, seed=0, patch_jitter=5),
    dict(type='PackInputs', algorithm_keys=['jigsaw_label']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

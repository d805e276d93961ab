# fovea's own: RelativeLoc (Doersch et al. 2015, MMSelfSup 0.x's recipe) on the CIFAR-10 JPEGs with a
# CIFAR ResNet-18. Images are upscaled to 72 px and cropped to 64 (MMSelfSup: resize 292, crop 255),
# greyscaled with probability 0.66 (against chromatic aberration) and cut into a 3x3 grid of 21 px
# cells holding 16 px jittered patches (MMSelfSup: 85 px cells, 64 px patches, jitter 21); each
# neighbour is paired with the centre (8 pairs per image) and its position classified 8 ways.
# SGD + warmup + cosine for 100 epochs; kNN top-1 (on the whole 32 px test images) every 10 epochs.
_base_ = ['../_base_/datasets/cifar10_jpg_multiview.py', '../_base_/schedules/cifar10_ssl_sgd.py',
          '../_base_/default_runtime.py']
model = dict(
    type='RelativeLoc',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='RelativeLocNeck', in_channels=512, out_channels=4096),
    head=dict(type='LinearClsHead', num_classes=8, in_channels=4096, loss=dict(type='CrossEntropyLoss'),
              init_cfg=dict(type='Normal', std=0.005, layer='Linear')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=72),
    dict(type='RandomCrop', crop_size=64),
    dict(type='RandomGrayscale', prob=0.66, keep_channels=True, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomPatchWithLabels', patch_jitter=5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

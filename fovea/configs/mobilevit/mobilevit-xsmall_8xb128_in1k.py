# mobilevit-xsmall, ImageNet-1k, 8 GPUs x 128 images (MMPretrain's recipe; the published weights are
# Apple's, trained on [0, 1]-scaled BGR input, hence the normalisation below)
_base_ = [
    '../_base_/models/mobilevit/mobilevit_xs.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/imagenet_bs256.py',
]

data_preprocessor = dict(
    mean=[0, 0, 0],
    std=[255, 255, 255],
    # the network expects BGR: fovea flips its RGB images when to_rgb=False
    to_rgb=False,
)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=288, edge='short'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

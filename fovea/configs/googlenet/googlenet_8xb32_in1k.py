# GoogLeNet has no MMPretrain recipe; this one uses the ResNet ImageNet recipe.
_base_ = [
    '../_base_/models/googlenet.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]

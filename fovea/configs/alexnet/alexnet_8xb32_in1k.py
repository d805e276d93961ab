# AlexNet has no MMPretrain recipe; this one follows the VGG recipe (SGD, lr 0.01).
_base_ = [
    '../_base_/models/alexnet.py',
    '../_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(optimizer=dict(lr=0.01))

# Res2Net-50 w14 s8 on ImageNet-1k, MMPretrain's recipe (SGD, step decay, 100 epochs); the published weights
# are the authors'.
_base_ = [
    '../_base_/models/res2net50-w14-s8.py',
    '../_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]

# HRNet-W18 on ImageNet-1k, MMPretrain's recipe (SGD, cosine, 100 epochs, 4 x 32 images per step); the
# published weights are the authors'.
_base_ = [
    '../_base_/models/hrnet.py',
    '../_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/schedules/imagenet_bs256_coslr.py',
    '../_base_/default_runtime.py',
]
auto_scale_lr = dict(base_batch_size=128)

# HiViT-Tiny/16 on ImageNet-1k: Swin's AdamW recipe (300 epochs, 1024 images per step), gradients clipped at 5
_base_ = [
    '../_base_/models/hivit.py',
    '../_base_/datasets/imagenet_bs64_hivit_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_hivit.py',
    '../_base_/default_runtime.py',
]

optim_wrapper = dict(clip_grad=dict(max_norm=5.0))

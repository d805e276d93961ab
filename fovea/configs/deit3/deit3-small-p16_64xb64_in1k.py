# DeiT III-S/16 on ImageNet-1k: the ViT AdamW schedule at lr 1e-5, weight decay 0.1, for 4096 images per step
# (MMPretrain's config; its weights are converted from the authors')
_base_ = [
    '../_base_/models/deit3.py',
    '../_base_/datasets/imagenet_bs64_deit3_224.py',
    '../_base_/schedules/imagenet_bs4096_AdamW.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=0.1))
auto_scale_lr = dict(base_batch_size=4096)

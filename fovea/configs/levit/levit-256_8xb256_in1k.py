# LeViT-256 on ImageNet, MMPretrain's recipe (its weights are converted from the authors'): 1000 epochs of AdamW,
# 256 images per GPU, the Swin 224 px augmentation
_base_ = ['../_base_/models/levit-256-p16.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
          '../_base_/schedules/imagenet_bs2048_adamw_levit.py', '../_base_/default_runtime.py']

train_dataloader = dict(batch_size=256)

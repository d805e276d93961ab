# XCiT-N12/16 on ImageNet, MMPretrain's recipe (its weights are converted from the authors'): the Swin
# AdamW schedule and 224 px augmentation, 128 images per GPU.
_base_ = ['../_base_/models/xcit.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
          '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py']

train_dataloader = dict(batch_size=128)

# at 384 px
_base_ = ['./xcit-medium-24-p16_8xb128_in1k.py', '../_base_/datasets/imagenet_bs64_swin_384.py']

train_dataloader = dict(batch_size=128)

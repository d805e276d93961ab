# at 384 px
_base_ = ['./xcit-small-12-p8_8xb128_in1k.py', '../_base_/datasets/imagenet_bs64_swin_384.py']

train_dataloader = dict(batch_size=128)

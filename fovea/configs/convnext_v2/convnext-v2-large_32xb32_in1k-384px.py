# at 384 px (the dataset base's loaders; the recipe's batch of 32)
_base_ = ['./convnext-v2-large_32xb32_in1k.py', '../_base_/datasets/imagenet_bs64_swin_384.py']

train_dataloader = dict(batch_size=32)

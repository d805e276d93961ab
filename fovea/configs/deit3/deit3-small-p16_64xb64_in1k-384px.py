# at 384 px (no stochastic depth)
_base_ = ['./deit3-small-p16_64xb64_in1k.py', '../_base_/datasets/imagenet_bs64_deit3_384.py']

model = dict(backbone=dict(img_size=384, drop_path_rate=0.0))
train_dataloader = dict(batch_size=64)

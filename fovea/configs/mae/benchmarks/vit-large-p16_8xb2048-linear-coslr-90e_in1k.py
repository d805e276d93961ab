# Linear probe of an MAE ViT-L/16 on ImageNet: as the ViT-B protocol with all 24 blocks frozen.
_base_ = ['vit-base-p16_8xb2048-linear-coslr-90e_in1k.py']
model = dict(backbone=dict(arch='large', frozen_stages=24), neck=dict(input_features=1024),
             head=dict(in_channels=1024))

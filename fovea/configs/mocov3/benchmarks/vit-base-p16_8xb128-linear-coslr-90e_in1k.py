# Linear probe of a MoCo v3 ViT-B/16 on ImageNet: the ViT-S/16 probe with a 768-wide backbone.
_base_ = './vit-small-p16_8xb128-linear-coslr-90e_in1k.py'
model = dict(backbone=dict(arch='base'), head=dict(in_channels=768))

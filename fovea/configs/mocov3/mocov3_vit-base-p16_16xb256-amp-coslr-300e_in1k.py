# MoCo v3 with a ViT-B/16: the ViT-S recipe with a 768-wide backbone.
_base_ = './mocov3_vit-small-p16_16xb256-amp-coslr-300e_in1k.py'
model = dict(backbone=dict(arch='base'), neck=dict(in_channels=768))

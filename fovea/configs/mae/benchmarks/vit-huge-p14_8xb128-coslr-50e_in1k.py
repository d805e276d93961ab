# Fine-tuning an MAE ViT-H/14 on ImageNet: as the ViT-L recipe with drop path 0.3.
_base_ = ['vit-large-p16_8xb128-coslr-50e_in1k.py']
model = dict(backbone=dict(arch='huge', patch_size=14, drop_path_rate=0.3), head=dict(in_channels=1280))

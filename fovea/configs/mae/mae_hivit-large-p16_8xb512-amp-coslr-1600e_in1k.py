# HiViT-L/16 (768 wide, 40 main blocks)
_base_ = ['./mae_hivit-base-p16_8xb512-amp-coslr-1600e_in1k.py']

model = dict(backbone=dict(type='MAEHiViT', arch='large'), neck=dict(type='MAEPretrainDecoder', embed_dim=768))

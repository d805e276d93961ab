# DeiT-T, ImageNet-1k, 300 epochs (Touvron et al., ICML 2021): DeiT-S's recipe with the tiny arch.
_base_ = './deit-small_4xb256_in1k.py'

model = dict(backbone=dict(arch='deit-tiny'), head=dict(in_channels=192))

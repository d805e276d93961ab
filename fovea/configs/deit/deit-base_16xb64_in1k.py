# DeiT-B, ImageNet-1k, 300 epochs (Touvron et al., ICML 2021): DeiT-S's recipe with the base arch,
# 16 x 64 images per step and an EMA of the weights.
_base_ = './deit-small_4xb256_in1k.py'

model = dict(backbone=dict(arch='deit-base'), head=dict(in_channels=768))
train_dataloader = dict(batch_size=64)
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]

# DeiT-B distilled (class + distillation tokens), ImageNet-1k, 300 epochs (Touvron et al., ICML 2021):
# DeiT-S distilled's recipe with the base arch and 16 x 64 images per step.
_base_ = './deit-small-distilled_4xb256_in1k.py'

model = dict(backbone=dict(arch='deit-base'), head=dict(in_channels=768))
train_dataloader = dict(batch_size=64)

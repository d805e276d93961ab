_base_ = ['./xcit-nano-12-p16_8xb128_in1k.py']

model = dict(backbone=dict(patch_size=8))

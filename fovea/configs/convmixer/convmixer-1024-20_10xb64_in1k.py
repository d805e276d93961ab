_base_ = ['./convmixer-768-32_10xb64_in1k.py']

# GELU (the backbone's default) in place of the 768/32 recipe's ReLU
model = dict(backbone=dict(_delete_=True, type='ConvMixer', arch='1024/20'), head=dict(in_channels=1024))

# 150 epochs: 20 warm-up, cosine over the other 130
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=130, eta_min=1e-5, by_epoch=True, begin=20, end=150),
]
train_cfg = dict(by_epoch=True, max_epochs=150)

# 800 epochs: stochastic depth 0.1, cross-entropy against the CLIP feature as a soft target, betas 0.9/0.999
_base_ = ['./itpn-clip-b_hivit-base-p16_8xb256-amp-coslr-300e_in1k.py']

model = dict(backbone=dict(drop_path_rate=0.1), head=dict(loss=dict(type='CrossEntropyLoss')))
optim_wrapper = dict(optimizer=dict(betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=800, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)

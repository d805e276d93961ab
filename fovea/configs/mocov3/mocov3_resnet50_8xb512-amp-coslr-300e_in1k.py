# MoCo v3 ResNet-50 for 300 epochs: the 100-epoch recipe with LARS lr 4.8.
_base_ = './mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py'
optim_wrapper = dict(optimizer=dict(lr=4.8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=290, by_epoch=True, begin=10, end=300, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300)

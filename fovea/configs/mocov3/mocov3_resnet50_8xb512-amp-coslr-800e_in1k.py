# MoCo v3 ResNet-50 for 800 epochs: the 100-epoch recipe with momentum 0.004, LARS lr 4.8 and
# weight decay 1.5e-6.
_base_ = './mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py'
model = dict(base_momentum=0.004)
optim_wrapper = dict(optimizer=dict(lr=4.8, weight_decay=1.5e-6))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=790, by_epoch=True, begin=10, end=800, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)

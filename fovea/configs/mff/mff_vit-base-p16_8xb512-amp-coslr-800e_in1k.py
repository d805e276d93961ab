# MFF, 800 epochs (MMPretrain's MAE 800-epoch schedule).
_base_ = './mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=0.000000001, by_epoch=True, begin=0, end=40, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, by_epoch=True, begin=40, end=800, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)

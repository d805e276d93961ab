# BLIP-base NLVR2 (a sentence true or false of an image pair), as MMPretrain's config.
_base_ = [
    '../_base_/datasets/nlvr2.py',
    '../_base_/models/blip_nlvr.py',
    '../_base_/default_runtime.py',
]

optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.05)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10)]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(logger=dict(interval=1))

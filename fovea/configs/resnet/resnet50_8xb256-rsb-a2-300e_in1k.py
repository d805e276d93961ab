# ResNet-50 "strikes back" A2 (arXiv:2110.00476): 300 epochs, LAMB, batch 2048, binary cross-entropy,
# Mixup 0.1 / CutMix 1.0, RandAugment, stochastic depth 0.05, repeated augmentation, SyncBN.
# Published top-1: 79.8 (timm), MMPretrain 79.55.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs256_rsb_a12.py',
    '../_base_/schedules/imagenet_bs2048_rsb.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), drop_path_rate=0.05),
    head=dict(loss=dict(use_sigmoid=True)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.1), dict(type='CutMix', alpha=1.0)]),
)

train_dataloader = dict(sampler=dict(type='RepeatAugSampler', shuffle=True))

optim_wrapper = dict(paramwise_cfg=dict(bias_decay_mult=0., norm_decay_mult=0.))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.0001, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=295, eta_min=1.0e-6, by_epoch=True, begin=5, end=300),
]

train_cfg = dict(by_epoch=True, max_epochs=300)

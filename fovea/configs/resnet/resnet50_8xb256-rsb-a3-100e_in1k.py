# ResNet-50 "strikes back" A3 (arXiv:2110.00476): 100 epochs, LAMB lr 8e-3, batch 2048, binary
# cross-entropy, Mixup 0.1 / CutMix 1.0, RandAugment (magnitude 6), SyncBN, no stochastic depth.
# Published top-1 (at 224 test resolution): 78.1 (timm), MMPretrain 78.30.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs256_rsb_a3.py',
    '../_base_/schedules/imagenet_bs2048_rsb.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
    head=dict(loss=dict(use_sigmoid=True)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.1), dict(type='CutMix', alpha=1.0)]),
)

optim_wrapper = dict(
    optimizer=dict(lr=0.008),
    paramwise_cfg=dict(bias_decay_mult=0., norm_decay_mult=0.),
)

# MoCo v3 on ImageNet with a ResNet-50 (MMPretrain's recipe): 4096-256 projector (last BN without
# affine), 4096-256 predictor, temperature 1.0, momentum 0.01 -> 0 (cosine), LARS lr 9.6 for a total
# batch of 4096 with BN and biases excluded from weight decay and the trust ratio, 10 warmup epochs,
# fp16 with dynamic loss scaling.
_base_ = ['../_base_/datasets/imagenet_bs512_mocov3.py', '../_base_/default_runtime.py']
temperature = 1.0
model = dict(
    type='MoCoV3',
    base_momentum=0.01,  # 0.004 for 1000 epochs
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'), zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=4096, out_channels=256, num_layers=2,
              with_bias=False, with_last_bn=True, with_last_bn_affine=False, with_last_bias=False,
              with_avg_pool=True),
    head=dict(type='MoCoV3Head',
              predictor=dict(type='NonLinearNeck', in_channels=256, hid_channels=4096, out_channels=256,
                             num_layers=2, with_bias=False, with_last_bn=False, with_last_bn_affine=False,
                             with_last_bias=False, with_avg_pool=False),
              loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
              temperature=temperature))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='LARS', lr=9.6, weight_decay=1e-6, momentum=0.9),
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),  # the BN of a block's shortcut
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10, end=100, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=4096)

# SimMIM on ImageNet (MMPretrain's recipe): Swin-B with 6x6 windows at 192 px, a linear decoder
# (1x1 conv + pixel shuffle), L1 on the masked pixels; AdamW, 10 warmup epochs + cosine, 100 epochs.
_base_ = ['../_base_/datasets/imagenet_bs256_simmim_192.py', '../_base_/default_runtime.py']
model = dict(
    type='SimMIM',
    backbone=dict(type='SimMIMSwinTransformer', arch='base', img_size=192,
                  stage_cfgs=dict(block_cfgs=dict(window_size=6))),
    neck=dict(type='SimMIMLinearDecoder', in_channels=128 * 2 ** 3, encoder_stride=32),
    head=dict(type='SimMIMHead', patch_size=4,
              loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4 * 2048 / 512, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.0), 'bias': dict(decay_mult=0.0),
        'absolute_pos_embed': dict(decay_mult=0.), 'relative_position_bias_table': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, eta_min=1e-5 * 2048 / 512, by_epoch=True, begin=10, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=2048)
